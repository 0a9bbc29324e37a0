//! Conversion of tensor data (F32, F16, BF16, Q8_0, Q4_0, Q4_1) to f32, block by block,
//! following ggml's reference `dequantize_row_*` functions.

use half::{bf16, f16};

use super::ggml_type::GgmlType;

/// Values per block of the 32-element quantized formats.
const QK: usize = 32;

/// Writes the f32 values of `bytes`, laid out as `ty`, into `out`.
///
/// `bytes` must hold exactly the blocks for `out.len()` values (the caller checked the
/// tensor's size against the file). Returns `false` when `ty` is not dequantizable.
pub(super) fn dequantize_into(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> bool {
    match ty {
        GgmlType::F32 => blocks::<1, 4>(bytes, out, |b, o| o[0] = f32::from_le_bytes(*b)),
        GgmlType::F16 => blocks::<1, 2>(bytes, out, |b, o| o[0] = f16::from_le_bytes(*b).to_f32()),
        GgmlType::BF16 => {
            blocks::<1, 2>(bytes, out, |b, o| o[0] = bf16::from_le_bytes(*b).to_f32())
        }
        GgmlType::Q8_0 => blocks::<QK, 34>(bytes, out, q8_0),
        GgmlType::Q4_0 => blocks::<QK, 18>(bytes, out, q4_0),
        GgmlType::Q4_1 => blocks::<QK, 20>(bytes, out, q4_1),
        _ => return false,
    }
    true
}

/// Runs `f` over each `B`-byte block and its `E` output values.
fn blocks<const E: usize, const B: usize>(
    bytes: &[u8],
    out: &mut [f32],
    f: impl Fn(&[u8; B], &mut [f32; E]),
) {
    debug_assert_eq!(bytes.len() / B * E, out.len());
    for (block, values) in bytes.chunks_exact(B).zip(out.chunks_exact_mut(E)) {
        // chunks_exact guarantees the lengths, so these conversions cannot fail.
        if let (Ok(block), Ok(values)) = (block.try_into(), values.try_into()) {
            f(block, values);
        }
    }
}

fn scale(block: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([block[at], block[at + 1]]).to_f32()
}

/// `d: f16, qs: [i8; 32]`, `x = qs * d`.
fn q8_0(block: &[u8; 34], out: &mut [f32; QK]) {
    let d = scale(block, 0);
    for (x, &q) in out.iter_mut().zip(&block[2..]) {
        *x = f32::from(q as i8) * d;
    }
}

/// `d: f16, qs: [u8; 16]` of nibbles; low nibbles are values 0..16, high nibbles 16..32;
/// `x = (q - 8) * d`.
fn q4_0(block: &[u8; 18], out: &mut [f32; QK]) {
    let d = scale(block, 0);
    let (low, high) = out.split_at_mut(QK / 2);
    for ((lo, hi), &q) in low.iter_mut().zip(high).zip(&block[2..]) {
        *lo = (i32::from(q & 0x0f) - 8) as f32 * d;
        *hi = (i32::from(q >> 4) - 8) as f32 * d;
    }
}

/// `d: f16, m: f16, qs: [u8; 16]` of nibbles laid out as in Q4_0; `x = q * d + m`.
fn q4_1(block: &[u8; 20], out: &mut [f32; QK]) {
    let d = scale(block, 0);
    let m = scale(block, 2);
    let (low, high) = out.split_at_mut(QK / 2);
    for ((lo, hi), &q) in low.iter_mut().zip(high).zip(&block[4..]) {
        *lo = f32::from(q & 0x0f) * d + m;
        *hi = f32::from(q >> 4) * d + m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ty: GgmlType, bytes: &[u8], n: usize) -> Vec<f32> {
        let mut out = vec![f32::NAN; n];
        assert!(dequantize_into(ty, bytes, &mut out));
        out
    }

    fn f16_bytes(v: f32) -> [u8; 2] {
        f16::from_f32(v).to_le_bytes()
    }

    #[test]
    fn plain_floats() {
        let bytes: Vec<u8> = [1.5f32, -2.0, 1e-3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(run(GgmlType::F32, &bytes, 3), [1.5, -2.0, 1e-3]);
        let bytes: Vec<u8> = [0.5f32, -3.0].iter().flat_map(|&v| f16_bytes(v)).collect();
        assert_eq!(run(GgmlType::F16, &bytes, 2), [0.5, -3.0]);
        // bf16 is the upper half of an f32: 0x3fc0 = 1.5, 0xc040 = -3.0.
        assert_eq!(
            run(GgmlType::BF16, &[0xc0, 0x3f, 0x40, 0xc0], 2),
            [1.5, -3.0]
        );
    }

    #[test]
    fn q8_0_block() {
        let mut block = f16_bytes(0.5).to_vec();
        block.extend((0..32).map(|i| (i as i8 - 16) as u8));
        let expected: Vec<f32> = (0..32).map(|i| (i - 16) as f32 * 0.5).collect();
        assert_eq!(run(GgmlType::Q8_0, &block, 32), expected);
        assert_eq!(run(GgmlType::Q8_0, &block, 32)[0], -8.0);
    }

    #[test]
    fn q4_0_block() {
        // Byte j holds value j in its low nibble and value j + 16 in its high nibble.
        let nibbles: Vec<u8> = (0..32).map(|i| (i * 7 % 16) as u8).collect();
        let mut block = f16_bytes(0.25).to_vec();
        block.extend((0..16).map(|j| nibbles[j] | nibbles[j + 16] << 4));
        let expected: Vec<f32> = nibbles.iter().map(|&q| (q as f32 - 8.0) * 0.25).collect();
        let out = run(GgmlType::Q4_0, &block, 32);
        assert_eq!(out, expected);
        assert_eq!(out[1], (7.0 - 8.0) * 0.25);
        assert_eq!(out[17], -0.25); // nibble 17 * 7 % 16 = 7
    }

    #[test]
    fn q4_1_block() {
        let nibbles: Vec<u8> = (0..32).map(|i| (15 - i % 16) as u8).collect();
        let mut block = f16_bytes(2.0).to_vec();
        block.extend_from_slice(&f16_bytes(-1.5));
        block.extend((0..16).map(|j| nibbles[j] | nibbles[j + 16] << 4));
        let out = run(GgmlType::Q4_1, &block, 32);
        let expected: Vec<f32> = nibbles.iter().map(|&q| q as f32 * 2.0 - 1.5).collect();
        assert_eq!(out, expected);
        assert_eq!((out[0], out[15], out[16]), (28.5, -1.5, 28.5));
    }

    #[test]
    fn two_blocks_keep_their_own_scales() {
        let mut bytes = f16_bytes(1.0).to_vec();
        bytes.extend([1u8; 32]);
        bytes.extend_from_slice(&f16_bytes(-2.0));
        bytes.extend([3u8; 32]);
        let out = run(GgmlType::Q8_0, &bytes, 64);
        assert_eq!((out[31], out[32], out[63]), (1.0, -6.0, -6.0));
    }

    #[test]
    fn other_types_are_refused() {
        assert!(!dequantize_into(
            GgmlType::from_id(12),
            &[0; 144],
            &mut [0.0; 256]
        ));
    }
}

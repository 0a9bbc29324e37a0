//! Conversion of tensor data (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and the K-quants)
//! to f32, block by block, following ggml's reference `dequantize_row_*` functions.

use half::{bf16, f16};

use super::ggml_type::GgmlType;
use super::kquant::{QK_K, q2_k, q3_k, q4_k, q5_k, q6_k};

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
        GgmlType::Q5_0 => blocks::<QK, 22>(bytes, out, q5_0),
        GgmlType::Q5_1 => blocks::<QK, 24>(bytes, out, q5_1),
        GgmlType::Q2_K => blocks::<QK_K, 84>(bytes, out, q2_k),
        GgmlType::Q3_K => blocks::<QK_K, 110>(bytes, out, q3_k),
        GgmlType::Q4_K => blocks::<QK_K, 144>(bytes, out, q4_k),
        GgmlType::Q5_K => blocks::<QK_K, 176>(bytes, out, q5_k),
        GgmlType::Q6_K => blocks::<QK_K, 210>(bytes, out, q6_k),
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

/// The f16 scale stored at byte `at` of a block, as f32.
pub(super) fn scale(block: &[u8], at: usize) -> f32 {
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

/// The quants of a 5-bit block: the low nibbles of `qs` (laid out as in Q4_0) with the fifth
/// bits from `qh` (a little-endian u32, bit `j` for value `j`), as values 0..32.
fn five_bit_quants(qh: &[u8], qs: &[u8]) -> [u8; QK] {
    let qh = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
    let mut quants = [0u8; QK];
    for (j, &q) in qs.iter().enumerate() {
        let fifth = |bit: usize| ((qh >> bit) & 1) as u8;
        quants[j] = (q & 0x0f) | fifth(j) << 4;
        quants[j + QK / 2] = (q >> 4) | fifth(j + QK / 2) << 4;
    }
    quants
}

/// `d: f16, qh: [u8; 4], qs: [u8; 16]`; `x = (q - 16) * d` with 5-bit quants.
fn q5_0(block: &[u8; 22], out: &mut [f32; QK]) {
    let d = scale(block, 0);
    for (x, q) in out
        .iter_mut()
        .zip(five_bit_quants(&block[2..6], &block[6..]))
    {
        *x = (i32::from(q) - 16) as f32 * d;
    }
}

/// `d: f16, m: f16, qh: [u8; 4], qs: [u8; 16]`; `x = q * d + m` with 5-bit quants.
fn q5_1(block: &[u8; 24], out: &mut [f32; QK]) {
    let (d, m) = (scale(block, 0), scale(block, 2));
    for (x, q) in out
        .iter_mut()
        .zip(five_bit_quants(&block[4..8], &block[8..]))
    {
        *x = f32::from(q) * d + m;
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
    fn q5_0_and_q5_1_blocks() {
        // Value j's fifth bit is bit j of qh: set for values 0 and 17 only.
        let qh = (1u32 | 1 << 17).to_le_bytes();
        let mut qs = [0u8; 16];
        qs[0] = 0x3f; // value 0: 15 (+16) = 31; value 16: 3
        qs[1] = 0x20; // value 1: 0; value 17: 2 (+16) = 18
        let block = [&f16_bytes(0.5)[..], &qh, &qs].concat();
        let out = run(GgmlType::Q5_0, &block, 32);
        assert_eq!((out[0], out[16], out[1], out[17]), (7.5, -6.5, -8.0, 1.0));
        assert_eq!(out[31], -8.0);
        let block = [&f16_bytes(0.5)[..], &f16_bytes(-1.0), &qh, &qs].concat();
        let out = run(GgmlType::Q5_1, &block, 32);
        assert_eq!((out[0], out[16], out[1], out[17]), (14.5, 0.5, -1.0, 8.0));
    }

    #[test]
    fn k_quant_super_blocks_keep_their_own_scales() {
        // Two Q6_K super-blocks whose quants are all 0 (q - 32 = -32), scales 1 and d 1, 2.
        let mut bytes = Vec::new();
        for d in [1.0f32, 2.0] {
            bytes.extend([0u8; 128 + 64]);
            bytes.extend([1u8; 16]);
            bytes.extend(f16_bytes(d));
        }
        let out = run(GgmlType::Q6_K, &bytes, 512);
        assert_eq!(
            (out[0], out[255], out[256], out[511]),
            (-32.0, -32.0, -64.0, -64.0)
        );
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
        // IQ4_XS: an importance-matrix format with its own lookup grid.
        assert!(!dequantize_into(
            GgmlType::from_id(23),
            &[0; 136],
            &mut [0.0; 256]
        ));
    }
}

//! The K-quant formats (Q2_K … Q6_K): super-blocks of 256 weights split into sub-blocks, each
//! with its own quantized scale (and minimum), following ggml's `dequantize_row_q*_K`.
//!
//! The arithmetic is ggml's, in its order (`d * scale` first, then times the quant, minus
//! `dmin * min`), so the f32 values equal ggml's and gguf-py's bit for bit.

use super::dequant::scale;

/// Weights per super-block.
pub(super) const QK_K: usize = 256;

/// Q2_K, 84 bytes: `scales: [u8; 16]` (low nibble scale, high nibble min, one pair per 16
/// weights), `qs: [u8; 64]` (2-bit quants), `d: f16`, `dmin: f16`.
/// Each 128-weight half reads 32 bytes of `qs` four times, at bit shifts 0, 2, 4, 6; every
/// shift covers two runs of 16 weights (bytes 0..16 and 16..32).
pub(super) fn q2_k(block: &[u8; 84], out: &mut [f32; QK_K]) {
    let (scales, qs) = (&block[..16], &block[16..80]);
    let (d, dmin) = (scale(block, 80), scale(block, 82));
    let mut sub = 0;
    for (half, qs) in out.chunks_exact_mut(128).zip(qs.chunks_exact(32)) {
        for (shift, quarter) in half.chunks_exact_mut(32).enumerate() {
            for (run, values) in quarter.chunks_exact_mut(16).enumerate() {
                let sc = scales[sub];
                sub += 1;
                let dl = d * f32::from(sc & 0x0f);
                let ml = dmin * f32::from(sc >> 4);
                for (x, &q) in values.iter_mut().zip(&qs[16 * run..16 * run + 16]) {
                    *x = dl * f32::from((q >> (2 * shift)) & 3) - ml;
                }
            }
        }
    }
}

/// Q3_K, 110 bytes: `hmask: [u8; 32]` (the third bit of each quant), `qs: [u8; 64]` (the low two
/// bits, laid out as in Q2_K), `scales: [u8; 12]` (sixteen 6-bit scales, offset by 32), `d: f16`.
/// A quant whose `hmask` bit is clear is 4 lower: `x = d * (scale - 32) * (q - 4 * !high)`.
pub(super) fn q3_k(block: &[u8; 110], out: &mut [f32; QK_K]) {
    let (hmask, qs, packed) = (&block[..32], &block[32..96], &block[96..108]);
    let d = scale(block, 108);
    let mut sub = 0;
    for (n, (half, qs)) in out
        .chunks_exact_mut(128)
        .zip(qs.chunks_exact(32))
        .enumerate()
    {
        for (shift, quarter) in half.chunks_exact_mut(32).enumerate() {
            // The hmask bit of this quarter: one bit per quarter, over both halves.
            let bit = 1u8 << (4 * n + shift);
            for (run, values) in quarter.chunks_exact_mut(16).enumerate() {
                let dl = d * f32::from(q3_k_scale(packed, sub) - 32);
                sub += 1;
                let range = 16 * run..16 * run + 16;
                for ((x, &q), &h) in values.iter_mut().zip(&qs[range.clone()]).zip(&hmask[range]) {
                    // Two bits: always fits.
                    let low = ((q >> (2 * shift)) & 3) as i8;
                    let q = if h & bit == 0 { low - 4 } else { low };
                    *x = dl * f32::from(q);
                }
            }
        }
    }
}

/// Scale `j` (0..16) of a Q3_K block: its low four bits are the low (j < 8) or high (j ≥ 8)
/// nibble of byte `j % 8`, its high two bits sit in byte `8 + j % 4` at bit `2 * (j / 4)`.
fn q3_k_scale(packed: &[u8], j: usize) -> i8 {
    let low = if j < 8 {
        packed[j] & 0x0f
    } else {
        packed[j - 8] >> 4
    };
    let high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    // Six bits: always below 64.
    (low | high << 4) as i8
}

/// Scale and minimum `j` (0..8) of a Q4_K / Q5_K block (`get_scale_min_k4`): 6 bits each;
/// sub-blocks 0..4 use the low six bits of bytes `j` and `j + 4`, sub-blocks 4..8 a nibble of
/// byte `j + 4` with the top two bits of bytes `j - 4` and `j`.
fn scale_min_k4(packed: &[u8], j: usize) -> (u8, u8) {
    if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        (
            (packed[j + 4] & 0x0f) | ((packed[j - 4] >> 6) << 4),
            (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4),
        )
    }
}

/// The scale and offset of sub-block `j` of a Q4_K / Q5_K block: `(d * scale, dmin * min)`.
fn k4_sub_block(d: f32, dmin: f32, packed: &[u8], j: usize) -> (f32, f32) {
    let (sc, m) = scale_min_k4(packed, j);
    (d * f32::from(sc), dmin * f32::from(m))
}

/// Q4_K, 144 bytes: `d: f16`, `dmin: f16`, `scales: [u8; 12]` (eight 6-bit scale/min pairs),
/// `qs: [u8; 128]`. Each 64 weights use 32 bytes: low nibbles are sub-block `2i`, high
/// nibbles sub-block `2i + 1`; `x = d * scale * q - dmin * min`.
pub(super) fn q4_k(block: &[u8; 144], out: &mut [f32; QK_K]) {
    let (d, dmin) = (scale(block, 0), scale(block, 2));
    let (packed, qs) = (&block[4..16], &block[16..]);
    for (i, (values, qs)) in out
        .chunks_exact_mut(64)
        .zip(qs.chunks_exact(32))
        .enumerate()
    {
        let (low, high) = values.split_at_mut(32);
        let (d1, m1) = k4_sub_block(d, dmin, packed, 2 * i);
        let (d2, m2) = k4_sub_block(d, dmin, packed, 2 * i + 1);
        for ((lo, hi), &q) in low.iter_mut().zip(high).zip(qs) {
            *lo = d1 * f32::from(q & 0x0f) - m1;
            *hi = d2 * f32::from(q >> 4) - m2;
        }
    }
}

/// Q5_K, 176 bytes: Q4_K's `d`, `dmin` and `scales`, then `qh: [u8; 32]` (the fifth bit of
/// each quant: bit `2i` for the low nibbles of the `i`-th 64 weights, bit `2i + 1` for the
/// high ones) and `qs: [u8; 128]`.
pub(super) fn q5_k(block: &[u8; 176], out: &mut [f32; QK_K]) {
    let (d, dmin) = (scale(block, 0), scale(block, 2));
    let (packed, qh, qs) = (&block[4..16], &block[16..48], &block[48..]);
    for (i, (values, qs)) in out
        .chunks_exact_mut(64)
        .zip(qs.chunks_exact(32))
        .enumerate()
    {
        let (low, high) = values.split_at_mut(32);
        let (d1, m1) = k4_sub_block(d, dmin, packed, 2 * i);
        let (d2, m2) = k4_sub_block(d, dmin, packed, 2 * i + 1);
        let fifth = |h: u8, bit: usize| if h >> bit & 1 == 1 { 16u8 } else { 0 };
        for (((lo, hi), &q), &h) in low.iter_mut().zip(high).zip(qs).zip(qh) {
            *lo = d1 * f32::from((q & 0x0f) + fifth(h, 2 * i)) - m1;
            *hi = d2 * f32::from((q >> 4) + fifth(h, 2 * i + 1)) - m2;
        }
    }
}

/// Q6_K, 210 bytes: `ql: [u8; 128]` (low four bits), `qh: [u8; 64]` (high two bits),
/// `scales: [i8; 16]` (one per 16 weights), `d: f16`; `x = d * scale * (q - 32)`.
/// Each 128-weight half uses 64 bytes of `ql` and 32 of `qh`: weight `l + 32 * r` (r = 0..4)
/// takes the low (r < 2) or high nibble of `ql[l + 32 * (r % 2)]` and bits `2r..2r+2` of `qh[l]`.
pub(super) fn q6_k(block: &[u8; 210], out: &mut [f32; QK_K]) {
    let (ql, qh, scales) = (&block[..128], &block[128..192], &block[192..208]);
    let d = scale(block, 208);
    for (n, half) in out.chunks_exact_mut(128).enumerate() {
        let (ql, qh) = (&ql[64 * n..64 * n + 64], &qh[32 * n..32 * n + 32]);
        for (r, quarter) in half.chunks_exact_mut(32).enumerate() {
            for (l, x) in quarter.iter_mut().enumerate() {
                let byte = ql[l + 32 * (r % 2)];
                let low = if r < 2 { byte & 0x0f } else { byte >> 4 };
                let high = (qh[l] >> (2 * r)) & 3;
                let q = i16::from(low | high << 4) - 32;
                let sc = scales[8 * n + l / 16 + 2 * r] as i8;
                *x = d * f32::from(sc) * f32::from(q);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use half::f16;

    use super::*;

    fn f16_bytes(v: f32) -> [u8; 2] {
        f16::from_f32(v).to_le_bytes()
    }

    fn block<const B: usize>(parts: &[&[u8]]) -> [u8; B] {
        parts.concat().try_into().expect("the parts fill the block")
    }

    #[test]
    fn q4_k_scales_mins_and_nibbles() {
        // Scales/mins: sub-blocks 0..4 from the low six bits of bytes 0..4 / 4..8; sub-blocks
        // 4..8 from nibbles of bytes 8..12 plus the top two bits of bytes 0..4 / 4..8.
        // Byte 0 = 0b01_000011: sub-block 0 scale 3, and scale bits 4..6 of sub-block 4 = 1.
        // Byte 4 = 0b10_000101: sub-block 0 min 5, and min bits 4..6 of sub-block 4 = 2.
        // Byte 8 = 0x72: sub-block 4 scale 2 | 1 << 4 = 18, min 7 | 2 << 4 = 39.
        let mut scales = [0u8; 12];
        scales[0] = 0b0100_0011;
        scales[4] = 0b1000_0101;
        scales[8] = 0x72;
        scales[1] = 1; // sub-block 1: scale 1, min 0
        let mut qs = [0u8; 128];
        qs[0] = 0x9a; // weight 0 (sub-block 0): 10; weight 32 (sub-block 1): 9
        qs[64] = 0x0f; // weight 128 (sub-block 4): 15; weight 160 (sub-block 5): 0
        let b = block::<144>(&[&f16_bytes(0.5), &f16_bytes(0.25), &scales, &qs]);
        let mut out = [f32::NAN; QK_K];
        q4_k(&b, &mut out);
        assert_eq!(out[0], 0.5 * 3.0 * 10.0 - 0.25 * 5.0);
        assert_eq!(out[1], -0.25 * 5.0);
        assert_eq!(out[32], 0.5 * 9.0);
        assert_eq!(out[128], 0.5 * 18.0 * 15.0 - 0.25 * 39.0);
        assert_eq!(out[160], 0.0);
        assert_eq!(out[255], 0.0);
    }

    #[test]
    fn q5_k_adds_the_fifth_bit() {
        let mut scales = [0u8; 12];
        scales[0] = 2; // sub-block 0 scale 2
        scales[1] = 1; // sub-block 1 scale 1
        scales[11] = 0x31; // sub-block 7: scale 1 (low nibble), min 3 (high nibble)
        let mut qh = [0u8; 32];
        qh[0] = 0b1000_0001; // weight 0 (bit 0) and weight 224 (bit 7) get +16
        let mut qs = [0u8; 128];
        qs[0] = 0x23; // weight 0: 3 (+16), weight 32: 2
        qs[96] = 0x50; // weight 192: 0, weight 224: 5 (+16)
        let b = block::<176>(&[&f16_bytes(1.0), &f16_bytes(0.5), &scales, &qh, &qs]);
        let mut out = [f32::NAN; QK_K];
        q5_k(&b, &mut out);
        assert_eq!(out[0], 2.0 * 19.0);
        assert_eq!(out[32], 1.0 * 2.0);
        assert_eq!(out[224], 1.0 * 21.0 - 0.5 * 3.0);
        assert_eq!(out[1], 0.0);
    }

    #[test]
    fn q6_k_six_bit_quants_and_signed_scales() {
        let mut ql = [0u8; 128];
        let mut qh = [0u8; 64];
        let mut scales = [0u8; 16];
        // Weight 0: low nibble of ql[0] = 5, bits 0..2 of qh[0] = 2 -> q = 5 + 32 - 32 = 5.
        ql[0] = 0x05;
        qh[0] = 0b10;
        scales[0] = 3;
        // Weight 96 (r = 3): high nibble of ql[32] = 0xf, bits 6..8 of qh[0] = 0 -> q = -17.
        ql[32] = 0xf0;
        scales[6] = (-2i8) as u8;
        // Weight 255 (second half, r = 3, l = 31): high nibble of ql[64 + 63], qh[32 + 31] bits
        // 6..8 = 3 -> q = 0x3f - 32 = 31, scale 8 * 1 + 31 / 16 + 6 = 15.
        ql[127] = 0xf0;
        qh[63] = 0b1100_0000;
        scales[15] = 1;
        let b = block::<210>(&[&ql, &qh, &scales, &f16_bytes(0.5)]);
        let mut out = [f32::NAN; QK_K];
        q6_k(&b, &mut out);
        assert_eq!(out[0], 0.5 * 3.0 * 5.0);
        assert_eq!(out[96], 0.5 * -2.0 * -17.0);
        assert_eq!(out[255], 0.5 * 31.0);
        assert_eq!(out[1], 0.5 * 3.0 * -32.0);
        assert_eq!(out[16], 0.0); // scale 1 is 0
    }

    #[test]
    fn q2_k_two_bit_quants() {
        let mut scales = [0u8; 16];
        scales[0] = 0x13; // weights 0..16: scale 3, min 1
        scales[1] = 0x02; // weights 16..32: scale 2, min 0
        scales[15] = 0x21; // weights 240..256: scale 1, min 2
        let mut qs = [0u8; 64];
        qs[0] = 0b1100_0010; // weight 0 (shift 0): 2; weight 96 (shift 6): 3
        qs[16] = 0b01; // weight 16: 1
        qs[63] = 0b1100_0000; // weight 255: second half, shift 6, byte 31 of its run: 3
        let b = block::<84>(&[&scales, &qs, &f16_bytes(0.5), &f16_bytes(0.25)]);
        let mut out = [f32::NAN; QK_K];
        q2_k(&b, &mut out);
        assert_eq!(out[0], 0.5 * 3.0 * 2.0 - 0.25);
        assert_eq!(out[1], -0.25);
        assert_eq!(out[16], 0.5 * 2.0);
        assert_eq!(out[96], 0.0); // sub-block 6 has scale 0 and min 0
        assert_eq!(out[255], 0.5 * 3.0 - 0.25 * 2.0);
    }

    #[test]
    fn q3_k_high_bit_and_packed_scales() {
        // Scale 0: low nibble of byte 0 = 1, high bits of byte 8 bits 0..2 = 2 -> 33 - 32 = 1.
        // Scale 9: high nibble of byte 1 = 0xf, byte 9 bits 4..6 = 3 -> 63 - 32 = 31.
        let mut packed = [0u8; 12];
        packed[0] = 0x01;
        packed[8] = 0b10;
        packed[1] = 0xf0;
        packed[9] = 0b11_0000;
        let mut hmask = [0u8; 32];
        hmask[0] = 1; // weight 0 keeps its value; weight 1 (clear) is 4 lower
        let mut qs = [0u8; 64];
        qs[0] = 0b11; // weight 0: 3
        qs[1] = 0b01; // weight 1: 1 - 4 = -3
        // Scale 9 is sub-block 9: second half (weights 128..), quarter 0, run 1 = 144..160;
        // weight 144 reads qs[32 + 16] at shift 0 and hmask[16] bit 4.
        qs[48] = 0b10;
        hmask[16] = 1 << 4;
        let b = block::<110>(&[&hmask, &qs, &packed, &f16_bytes(2.0)]);
        let mut out = [f32::NAN; QK_K];
        q3_k(&b, &mut out);
        assert_eq!(out[0], 2.0 * 1.0 * 3.0);
        assert_eq!(out[1], 2.0 * 1.0 * -3.0);
        assert_eq!(out[144], 2.0 * 31.0 * 2.0);
        assert_eq!(out[145], 2.0 * 31.0 * -4.0);
        assert_eq!(q3_k_scale(&packed, 0), 33);
        assert_eq!(q3_k_scale(&packed, 9), 63);
        assert_eq!(q3_k_scale(&packed, 2), 0);
    }
}

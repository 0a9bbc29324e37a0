//! GGML tensor element types: their ids in a GGUF file, names and block geometry.

use std::fmt;

/// The element type of a tensor in a GGUF file (`ggml_type`).
///
/// Every type ggml defines is named so that errors can say what a file holds; only some of
/// them can be dequantized here (see [`GgmlType::is_dequantizable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GgmlType(u32);

/// `(id, name, elements per block, bytes per block)` of every ggml type still in use.
const TYPES: &[(u32, &str, usize, usize)] = &[
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 36),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
];

impl GgmlType {
    /// 32-bit IEEE floats.
    pub const F32: Self = Self(0);
    /// 16-bit IEEE floats.
    pub const F16: Self = Self(1);
    /// Blocks of 32 4-bit weights with one f16 scale (`x = (q - 8) * d`).
    pub const Q4_0: Self = Self(2);
    /// Blocks of 32 4-bit weights with an f16 scale and minimum (`x = q * d + m`).
    pub const Q4_1: Self = Self(3);
    /// Blocks of 32 5-bit weights with one f16 scale (`x = (q - 16) * d`).
    pub const Q5_0: Self = Self(6);
    /// Blocks of 32 5-bit weights with an f16 scale and minimum (`x = q * d + m`).
    pub const Q5_1: Self = Self(7);
    /// Blocks of 32 signed 8-bit weights with one f16 scale (`x = q * d`).
    pub const Q8_0: Self = Self(8);
    /// Super-blocks of 256 2-bit weights, 4-bit scales and minimums per 16.
    pub const Q2_K: Self = Self(10);
    /// Super-blocks of 256 3-bit weights, 6-bit scales per 16.
    pub const Q3_K: Self = Self(11);
    /// Super-blocks of 256 4-bit weights, 6-bit scales and minimums per 32.
    pub const Q4_K: Self = Self(12);
    /// Super-blocks of 256 5-bit weights, 6-bit scales and minimums per 32.
    pub const Q5_K: Self = Self(13);
    /// Super-blocks of 256 6-bit weights, 8-bit scales per 16.
    pub const Q6_K: Self = Self(14);
    /// bfloat16.
    pub const BF16: Self = Self(30);

    /// The type with ggml id `id` (ids ggml does not define are kept and named as unknown).
    pub const fn from_id(id: u32) -> Self {
        Self(id)
    }

    /// The ggml id stored in the file.
    pub const fn id(self) -> u32 {
        self.0
    }

    fn entry(self) -> Option<&'static (u32, &'static str, usize, usize)> {
        TYPES.iter().find(|(id, ..)| *id == self.0)
    }

    /// The ggml name (`"Q4_1"`), or `None` for an id ggml does not define.
    pub fn name(self) -> Option<&'static str> {
        self.entry().map(|&(_, name, ..)| name)
    }

    /// `(elements, bytes)` of one block, or `None` for an id ggml does not define.
    pub fn block(self) -> Option<(usize, usize)> {
        self.entry()
            .map(|&(_, _, elements, bytes)| (elements, bytes))
    }

    /// Whether [`crate::gguf::GgufFile::tensor_f32`] can convert this type to f32.
    pub fn is_dequantizable(self) -> bool {
        DEQUANTIZABLE.contains(&self)
    }
}

/// The types [`GgmlType::is_dequantizable`] accepts.
pub(super) const DEQUANTIZABLE: [GgmlType; 13] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
];

/// The names of the [`DEQUANTIZABLE`] types, for error messages.
pub(super) fn dequantizable_names() -> String {
    DEQUANTIZABLE.map(|t| t.to_string()).join(", ")
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "unknown type id {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_blocks_follow_ggml() {
        assert_eq!(GgmlType::Q4_1.to_string(), "Q4_1");
        assert_eq!(GgmlType::Q8_0.block(), Some((32, 34)));
        assert_eq!(GgmlType::from_id(12).to_string(), "Q4_K");
        assert_eq!(GgmlType::Q4_K.block(), Some((256, 144)));
        assert_eq!(GgmlType::Q6_K.block(), Some((256, 210)));
        assert_eq!(GgmlType::Q5_0.block(), Some((32, 22)));
        assert!(GgmlType::Q4_K.is_dequantizable());
        assert!(!GgmlType::from_id(23).is_dequantizable());
        assert_eq!(
            dequantizable_names(),
            "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K"
        );
        assert!(GgmlType::BF16.is_dequantizable());
        assert_eq!(GgmlType::from_id(4).to_string(), "unknown type id 4");
        assert_eq!(GgmlType::from_id(4).block(), None);
    }
}

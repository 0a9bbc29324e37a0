//! GGUF metadata values: the thirteen value types, arrays included, and their parsing.

use super::cursor::{Cursor, ReadFail};

/// One metadata value of a GGUF file.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    /// `uint8`.
    U8(u8),
    /// `int8`.
    I8(i8),
    /// `uint16`.
    U16(u16),
    /// `int16`.
    I16(i16),
    /// `uint32`.
    U32(u32),
    /// `int32`.
    I32(i32),
    /// `uint64`.
    U64(u64),
    /// `int64`.
    I64(i64),
    /// `float32`.
    F32(f32),
    /// `float64`.
    F64(f64),
    /// `bool` (any non-zero byte is true, as in ggml).
    Bool(bool),
    /// A UTF-8 string.
    String(String),
    /// An array of values of one type (arrays may nest).
    Array(Vec<MetadataValue>),
}

impl MetadataValue {
    /// The GGUF name of the value's type (`"u32"`, `"array"`), used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::U8(_) => "u8",
            Self::I8(_) => "i8",
            Self::U16(_) => "u16",
            Self::I16(_) => "i16",
            Self::U32(_) => "u32",
            Self::I32(_) => "i32",
            Self::U64(_) => "u64",
            Self::I64(_) => "i64",
            Self::F32(_) => "f32",
            Self::F64(_) => "f64",
            Self::Bool(_) => "bool",
            Self::String(_) => "string",
            Self::Array(_) => "array",
        }
    }

    /// The value as a `u64` when it is an integer of any width and not negative.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as an `i64` when it is an integer of any width that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::I8(v) => Some(v.into()),
            Self::I16(v) => Some(v.into()),
            Self::I32(v) => Some(v.into()),
            Self::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// The value as an `f32` when it is a float (`f64` is narrowed).
    pub fn as_f32(&self) -> Option<f32> {
        match *self {
            Self::F32(v) => Some(v),
            Self::F64(v) => Some(v as f32),
            _ => None,
        }
    }

    /// The value as a bool.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a string slice.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(v) => Some(v),
            _ => None,
        }
    }

    /// The elements of an array.
    pub fn as_array(&self) -> Option<&[MetadataValue]> {
        match self {
            Self::Array(v) => Some(v),
            _ => None,
        }
    }
}

/// Why a value could not be parsed; the caller adds the file and the key.
#[derive(Debug)]
pub(super) enum ValueFail {
    /// The bytes ran out or a string was not UTF-8.
    Read(ReadFail),
    /// A type id GGUF does not define.
    UnknownType(u32),
    /// Arrays nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl From<ReadFail> for ValueFail {
    fn from(fail: ReadFail) -> Self {
        Self::Read(fail)
    }
}

/// Arrays of arrays are legal; this bound keeps a hostile file from exhausting the stack.
pub(super) const MAX_DEPTH: usize = 8;

/// Reads a type id and a value of that type.
pub(super) fn read_typed_value(c: &mut Cursor<'_>) -> Result<MetadataValue, ValueFail> {
    let type_id = c.u32()?;
    read_value(c, type_id, 0)
}

fn read_value(c: &mut Cursor<'_>, type_id: u32, depth: usize) -> Result<MetadataValue, ValueFail> {
    Ok(match type_id {
        0 => MetadataValue::U8(u8::from_le_bytes(c.array()?)),
        1 => MetadataValue::I8(i8::from_le_bytes(c.array()?)),
        2 => MetadataValue::U16(u16::from_le_bytes(c.array()?)),
        3 => MetadataValue::I16(i16::from_le_bytes(c.array()?)),
        4 => MetadataValue::U32(u32::from_le_bytes(c.array()?)),
        5 => MetadataValue::I32(i32::from_le_bytes(c.array()?)),
        6 => MetadataValue::F32(f32::from_le_bytes(c.array()?)),
        7 => MetadataValue::Bool(u8::from_le_bytes(c.array()?) != 0),
        8 => MetadataValue::String(c.string()?.to_owned()),
        9 => {
            if depth >= MAX_DEPTH {
                return Err(ValueFail::TooDeep);
            }
            let element_type = c.u32()?;
            let start = c.pos();
            let len = c.u64()?;
            // Every element takes at least one byte, so the remaining bytes bound the length
            // before anything is allocated.
            if len > c.remaining() as u64 {
                return Err(ValueFail::Read(ReadFail::Eof { offset: start }));
            }
            let items = (0..len)
                .map(|_| read_value(c, element_type, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            MetadataValue::Array(items)
        }
        10 => MetadataValue::U64(u64::from_le_bytes(c.array()?)),
        11 => MetadataValue::I64(i64::from_le_bytes(c.array()?)),
        12 => MetadataValue::F64(f64::from_le_bytes(c.array()?)),
        other => return Err(ValueFail::UnknownType(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<MetadataValue, ValueFail> {
        read_typed_value(&mut Cursor::new(bytes))
    }

    #[test]
    fn scalars_of_every_type() {
        let cases: Vec<(u32, Vec<u8>, MetadataValue)> = vec![
            (0, vec![200], MetadataValue::U8(200)),
            (1, vec![0xff], MetadataValue::I8(-1)),
            (2, 513u16.to_le_bytes().to_vec(), MetadataValue::U16(513)),
            (3, (-2i16).to_le_bytes().to_vec(), MetadataValue::I16(-2)),
            (
                4,
                70000u32.to_le_bytes().to_vec(),
                MetadataValue::U32(70000),
            ),
            (5, (-7i32).to_le_bytes().to_vec(), MetadataValue::I32(-7)),
            (6, 1.5f32.to_le_bytes().to_vec(), MetadataValue::F32(1.5)),
            (7, vec![1], MetadataValue::Bool(true)),
            (
                10,
                (1u64 << 40).to_le_bytes().to_vec(),
                MetadataValue::U64(1 << 40),
            ),
            (11, (-3i64).to_le_bytes().to_vec(), MetadataValue::I64(-3)),
            (12, 0.25f64.to_le_bytes().to_vec(), MetadataValue::F64(0.25)),
        ];
        for (type_id, payload, expected) in cases {
            let mut bytes = type_id.to_le_bytes().to_vec();
            bytes.extend_from_slice(&payload);
            assert_eq!(parse(&bytes).unwrap(), expected, "type {type_id}");
        }
    }

    #[test]
    fn nested_arrays_of_strings() {
        let mut bytes = 9u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&9u32.to_le_bytes()); // array of arrays
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&8u32.to_le_bytes()); // of strings
        bytes.extend_from_slice(&2u64.to_le_bytes());
        for s in ["a", "bc"] {
            bytes.extend_from_slice(&(s.len() as u64).to_le_bytes());
            bytes.extend_from_slice(s.as_bytes());
        }
        let strings = MetadataValue::Array(vec![
            MetadataValue::String("a".into()),
            MetadataValue::String("bc".into()),
        ]);
        assert_eq!(parse(&bytes).unwrap(), MetadataValue::Array(vec![strings]));
    }

    #[test]
    fn absurd_array_length_fails_before_allocating() {
        let mut bytes = 9u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            parse(&bytes),
            Err(ValueFail::Read(ReadFail::Eof { offset: 8 }))
        ));
    }

    #[test]
    fn unknown_type_and_deep_nesting_fail() {
        assert!(matches!(
            parse(&13u32.to_le_bytes()),
            Err(ValueFail::UnknownType(13))
        ));
        // An array of one array of one array ... deeper than MAX_DEPTH.
        let mut bytes = 9u32.to_le_bytes().to_vec();
        for _ in 0..=MAX_DEPTH {
            bytes.extend_from_slice(&9u32.to_le_bytes());
            bytes.extend_from_slice(&1u64.to_le_bytes());
        }
        assert!(matches!(parse(&bytes), Err(ValueFail::TooDeep)));
    }

    #[test]
    fn integer_accessors_accept_every_width() {
        assert_eq!(MetadataValue::U8(3).as_u64(), Some(3));
        assert_eq!(MetadataValue::I32(30).as_u64(), Some(30));
        assert_eq!(MetadataValue::I32(-1).as_u64(), None);
        assert_eq!(MetadataValue::I32(-1).as_i64(), Some(-1));
        assert_eq!(MetadataValue::F32(1.0).as_u64(), None);
        assert_eq!(MetadataValue::F64(0.5).as_f32(), Some(0.5));
    }
}

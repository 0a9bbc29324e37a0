//! Hand-built GGUF files: both versions, every metadata type, each dequantizable tensor type,
//! custom alignment, and a clear error (naming the file, key or tensor) for each kind of
//! damage.

use std::path::{Path, PathBuf};

use crate::LoadError;
use crate::gguf::{GgmlType, GgufError, GgufFile, MetadataValue};
use crate::test_support::gguf_writer::{GgufWriter, s};
use crate::weights::WeightSource;
use half::f16;
use tempfile::TempDir;

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// One Q4_1 block: scale 0.5, minimum -1, nibbles 0..16 then 15..=0.
fn q4_1_block() -> (Vec<u8>, Vec<f32>) {
    let nibbles: Vec<u8> = (0..16).chain((0..16).rev()).collect();
    let mut bytes = f16::from_f32(0.5).to_le_bytes().to_vec();
    bytes.extend(f16::from_f32(-1.0).to_le_bytes());
    bytes.extend((0..16).map(|j| nibbles[j] | nibbles[j + 16] << 4));
    let values = nibbles.iter().map(|&q| f32::from(q) * 0.5 - 1.0).collect();
    (bytes, values)
}

/// A file with one tensor of every dequantizable type.
fn model(version: u32) -> GgufWriter {
    let (q4_1, _) = q4_1_block();
    let mut q8_0 = f16::from_f32(0.25).to_le_bytes().to_vec();
    q8_0.extend((0..32).map(|i| (i as i8 - 16) as u8));
    let mut q4_0 = f16::from_f32(2.0).to_le_bytes().to_vec();
    q4_0.extend([0x10; 16]); // low nibbles 0 -> -16, high nibbles 1 -> -14
    let f16s: Vec<u8> = [1.5f32, -0.5]
        .iter()
        .flat_map(|&v| f16::from_f32(v).to_le_bytes())
        .collect();
    GgufWriter::new(version)
        .kv("general.architecture", s("llama"))
        .kv("llama.block_count", MetadataValue::U32(2))
        .tensor(
            "f32",
            &[3, 2],
            0,
            f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        )
        .tensor("f16", &[2], 1, f16s)
        .tensor("bf16", &[2], 30, vec![0xc0, 0x3f, 0x40, 0xc0])
        .tensor("q8_0", &[32], 8, q8_0)
        .tensor("q4_0", &[32], 2, q4_0)
        .tensor("q4_1", &[32], 3, q4_1)
}

fn write(writer: &GgufWriter) -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let path = writer.write(dir.path(), "model.gguf");
    (dir, path)
}

fn write_bytes(bytes: &[u8]) -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("model.gguf");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// The error message of opening `path`, checked to name the file.
fn open_error(path: &Path) -> (GgufError, String) {
    let err = GgufFile::open(path).unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    (err, message)
}

#[test]
fn versions_2_and_3_read_the_same() {
    for version in [2, 3] {
        let (_dir, path) = write(&model(version));
        let gguf = GgufFile::open(&path).unwrap();
        assert_eq!(gguf.version(), version);
        assert_eq!(gguf.get_str("general.architecture").unwrap(), "llama");
        assert_eq!(gguf.get_u64("llama.block_count").unwrap(), 2);
        assert_eq!(
            gguf.tensor_names(),
            ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1"]
        );
        assert_eq!(
            gguf.tensor_f32("f32").unwrap(),
            (vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        );
    }
}

#[test]
fn every_type_dequantizes() {
    let (_dir, path) = write(&model(3));
    let gguf = GgufFile::open(&path).unwrap();
    assert_eq!(gguf.tensor_f32("f16").unwrap().1, [1.5, -0.5]);
    assert_eq!(gguf.tensor_f32("bf16").unwrap().1, [1.5, -3.0]);
    let q8: Vec<f32> = (0..32).map(|i| (i - 16) as f32 * 0.25).collect();
    assert_eq!(gguf.tensor_f32("q8_0").unwrap(), (vec![32], q8));
    let q4_0: Vec<f32> = [-16.0; 16].into_iter().chain([-14.0; 16]).collect();
    assert_eq!(gguf.tensor_f32("q4_0").unwrap().1, q4_0);
    assert_eq!(gguf.tensor_f32("q4_1").unwrap().1, q4_1_block().1);
    assert_eq!(
        gguf.tensor_info("q4_1").unwrap().ggml_type(),
        GgmlType::Q4_1
    );
}

#[test]
fn every_metadata_type_round_trips() {
    let values = [
        MetadataValue::U8(7),
        MetadataValue::I8(-7),
        MetadataValue::U16(700),
        MetadataValue::I16(-700),
        MetadataValue::U32(70_000),
        MetadataValue::I32(-70_000),
        MetadataValue::U64(7 << 40),
        MetadataValue::I64(-(7 << 40)),
        MetadataValue::F32(0.5),
        MetadataValue::F64(0.25),
        MetadataValue::Bool(true),
        s("text ü"),
        MetadataValue::Array(vec![MetadataValue::I32(1), MetadataValue::I32(-2)]),
        MetadataValue::Array(vec![
            MetadataValue::Array(vec![s("a")]),
            MetadataValue::Array(vec![]),
        ]),
    ];
    let writer = values
        .iter()
        .enumerate()
        .fold(GgufWriter::new(3), |w, (i, v)| {
            w.kv(&format!("k{i}"), v.clone())
        });
    let (_dir, path) = write(&writer);
    let gguf = GgufFile::open(&path).unwrap();
    for (i, value) in values.iter().enumerate() {
        assert_eq!(gguf.metadata(&format!("k{i}")), Some(value), "k{i}");
    }
    assert_eq!(gguf.get_u64("k0").unwrap(), 7);
    let message = gguf.get_u64("k5").unwrap_err().to_string();
    assert!(
        message.contains("`k5` holds a negative i32 value, expected a non-negative integer"),
        "{message}"
    );
    assert_eq!(gguf.get_f32("k9").unwrap(), 0.25);
    assert!(gguf.tensor_names().is_empty());
}

#[test]
fn custom_alignment_places_the_data() {
    // The header is far shorter than 1024 bytes, so the data starts at byte 1024; a reader
    // that kept the default alignment of 32 would read the zero padding instead.
    let writer = GgufWriter::new(3)
        .kv("general.alignment", MetadataValue::U32(1024))
        .tensor("x", &[2], 0, f32_bytes(&[1.5, -2.0]));
    let bytes = writer.bytes();
    assert_eq!(bytes[1024..1032], f32_bytes(&[1.5, -2.0]));
    let (_dir, path) = write(&writer);
    let gguf = GgufFile::open(&path).unwrap();
    assert_eq!(gguf.tensor_f32("x").unwrap().1, [1.5, -2.0]);
}

#[test]
fn non_power_of_two_alignment_is_refused() {
    let (_dir, path) = write(&model(3).kv("general.alignment", MetadataValue::U32(48)));
    let (err, message) = open_error(&path);
    assert!(
        matches!(err, GgufError::BadAlignment { value: 48, .. }),
        "{message}"
    );
    assert!(message.contains("`general.alignment` is 48"), "{message}");
}

#[test]
fn wrong_magic() {
    let mut bytes = model(3).bytes();
    bytes[..4].copy_from_slice(b"GGML");
    let (_dir, path) = write_bytes(&bytes);
    let (err, message) = open_error(&path);
    assert!(matches!(err, GgufError::BadMagic { .. }), "{message}");
    assert!(message.contains("is not a GGUF file"), "{message}");
}

#[test]
fn unsupported_versions() {
    for (version, hint) in [
        (1, "unknown version"),
        (4, "unknown version"),
        (3 << 24, "big-endian"),
    ] {
        let (_dir, path) = write(&model(version));
        let (err, message) = open_error(&path);
        assert!(
            matches!(err, GgufError::UnsupportedVersion { .. }),
            "{message}"
        );
        assert!(message.contains(&format!("version {version}")), "{message}");
        assert!(message.contains(hint), "{message}");
        assert!(message.contains("versions 2 and 3"), "{message}");
    }
}

#[test]
fn truncation_anywhere_is_an_error_not_a_panic() {
    let bytes = model(3).bytes();
    let (_dir, path) = write_bytes(&bytes);
    // Every tensor's data fits in 32 aligned bytes; the last (Q4_1) takes 20 of them, and
    // cutting the padding after it is harmless.
    let data_start = bytes.len() - 32 * 6;
    let data_end = bytes.len() - 12;
    GgufFile::open(&path).unwrap();
    std::fs::write(&path, &bytes[..data_end]).unwrap();
    GgufFile::open(&path).unwrap();
    for len in 0..data_end {
        std::fs::write(&path, &bytes[..len]).unwrap();
        let Err(err) = GgufFile::open(&path) else {
            panic!("a file cut to {len} bytes opened");
        };
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        match err {
            GgufError::Truncated { .. } => {
                assert!(len < data_start, "{len}: {message}");
                assert!(message.contains("is truncated"), "{message}");
            }
            GgufError::TensorOutOfBounds { .. } => {
                assert!(message.contains("truncated or corrupt"))
            }
            _ => panic!("{len}: {message}"),
        }
    }
}

#[test]
fn truncated_header_names_what_was_being_read() {
    let bytes = model(3).bytes();
    let (_dir, path) = write_bytes(&bytes[..30]);
    let (_, message) = open_error(&path);
    assert!(
        message.contains("the name of metadata entry #0"),
        "{message}"
    );
    let (_dir, path) = write_bytes(&bytes[..2]);
    let (_, message) = open_error(&path);
    assert!(message.contains("the header at byte 0"), "{message}");
}

#[test]
fn tensor_data_past_the_end_names_tensor_and_type() {
    let bytes = model(3).bytes();
    let (_dir, path) = write_bytes(&bytes[..bytes.len() - 20]);
    let (err, message) = open_error(&path);
    assert!(
        matches!(err, GgufError::TensorOutOfBounds { .. }),
        "{message}"
    );
    assert!(message.contains("tensor `q4_1` of type Q4_1"), "{message}");
    assert!(message.contains("truncated or corrupt"), "{message}");
}

#[test]
fn unsupported_tensor_type_fails_on_read_only() {
    let writer =
        model(3)
            .tensor("iq4_xs", &[256], 23, vec![0; 136])
            .tensor("future", &[4], 99, vec![0; 16]);
    let (_dir, path) = write(&writer);
    let gguf = GgufFile::open(&path).unwrap();
    assert_eq!(gguf.tensor_shape("iq4_xs").unwrap(), [256]);
    for (name, ty) in [("iq4_xs", "IQ4_XS"), ("future", "unknown type id 99")] {
        let err = gguf.tensor_f32(name).unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, GgufError::UnsupportedTensorType { .. }),
            "{message}"
        );
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains(&format!("tensor `{name}` has type {ty}")),
            "{message}"
        );
        assert!(
            message.contains("Q5_0, Q5_1, Q2_K, Q3_K, Q4_K"),
            "{message}"
        );
    }
    // Through the WeightSource the same error becomes a LoadError.
    let err = gguf.read_f32("iq4_xs").unwrap().unwrap_err();
    assert!(matches!(
        err,
        LoadError::Gguf(GgufError::UnsupportedTensorType { .. })
    ));
}

#[test]
fn bad_tensor_shapes() {
    let (_dir, path) = write(&model(3).tensor("odd", &[16], 8, vec![0; 34]));
    let (err, message) = open_error(&path);
    assert!(matches!(err, GgufError::BadShape { .. }), "{message}");
    assert!(message.contains("tensor `odd` of type Q8_0"), "{message}");
    assert!(
        message.contains("not a multiple of the type's block size"),
        "{message}"
    );

    let (_dir, path) = write(&model(3).tensor("huge", &[u64::MAX, 2], 0, vec![]));
    let (_, message) = open_error(&path);
    assert!(message.contains("element count overflows"), "{message}");

    let (_dir, path) = write(&model(3).tensor("5d", &[1, 1, 1, 1, 1], 0, vec![0; 4]));
    let (err, message) = open_error(&path);
    assert!(
        matches!(err, GgufError::TooManyDims { n_dims: 5, .. }),
        "{message}"
    );
    assert!(
        message.contains("tensor `5d` has 5 dimensions"),
        "{message}"
    );
}

#[test]
fn duplicates_are_refused() {
    let (_dir, path) = write(&model(3).kv("llama.block_count", MetadataValue::U32(3)));
    let (_, message) = open_error(&path);
    assert!(
        message.contains("metadata key `llama.block_count` occurs twice"),
        "{message}"
    );

    let (_dir, path) = write(&model(3).tensor("f16", &[2], 1, vec![0; 4]));
    let (_, message) = open_error(&path);
    assert!(message.contains("tensor `f16` occurs twice"), "{message}");
}

#[test]
fn unknown_metadata_type_names_the_key() {
    let mut bytes = GgufWriter::new(3)
        .kv("odd.key", MetadataValue::U8(1))
        .bytes();
    let type_at = 24 + 8 + "odd.key".len();
    bytes[type_at..type_at + 4].copy_from_slice(&13u32.to_le_bytes());
    let (_dir, path) = write_bytes(&bytes);
    let (err, message) = open_error(&path);
    assert!(
        matches!(err, GgufError::UnknownValueType { type_id: 13, .. }),
        "{message}"
    );
    assert!(message.contains("`odd.key`"), "{message}");
}

#[test]
fn invalid_utf8_names_the_string() {
    let mut bytes = GgufWriter::new(3).kv("key", s("ab")).bytes();
    let at = 24 + 8 + "key".len() + 4 + 8; // header, key, type id, string length
    assert_eq!(&bytes[at..at + 2], b"ab");
    bytes[at] = 0xff;
    let (_dir, path) = write_bytes(&bytes);
    let (err, message) = open_error(&path);
    assert!(matches!(err, GgufError::InvalidUtf8 { .. }), "{message}");
    assert!(
        message.contains("the value of metadata key `key`"),
        "{message}"
    );
}

#[test]
fn typed_getters_name_key_and_file() {
    let (_dir, path) = write(&model(3));
    let gguf = GgufFile::open(&path).unwrap();
    let file = path.display().to_string();

    let message = gguf
        .get_u64("llama.context_length")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("no metadata key `llama.context_length`"),
        "{message}"
    );
    assert!(message.contains(&file), "{message}");

    let message = gguf
        .get_u64("general.architecture")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(
            "`general.architecture` holds a string value, expected a non-negative integer"
        ),
        "{message}"
    );
    let message = gguf.get_f32("llama.block_count").unwrap_err().to_string();
    assert!(
        message.contains("holds a u32 value, expected a float"),
        "{message}"
    );
    let message = gguf.get_str("llama.block_count").unwrap_err().to_string();
    assert!(message.contains("expected a string"), "{message}");

    let message = gguf.tensor_f32("missing").unwrap_err().to_string();
    assert_eq!(message, format!("{file} has no tensor `missing`"));
}

#[test]
fn a_missing_file_is_an_io_error() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("absent.gguf");
    let (err, message) = open_error(&path);
    assert!(matches!(err, GgufError::Io { .. }), "{message}");
    assert!(message.starts_with("cannot read GGUF file"), "{message}");
}

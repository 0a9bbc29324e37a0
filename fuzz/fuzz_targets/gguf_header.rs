//! Any bytes either parse as a GGUF header, metadata and tensor directory whose tensors lie
//! inside the bytes, or are refused with an error, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use prompt_model::gguf::GgufDirectory;

fuzz_target!(|bytes: &[u8]| {
    let _ = GgufDirectory::parse(bytes, Path::new("fuzz.gguf"));
});

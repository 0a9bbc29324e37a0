//! Tokenizers built from GGUF metadata against Hugging Face's token ids.

mod gemma3;
mod smollm2;

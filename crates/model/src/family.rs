//! Which backbone family a model file or directory holds, read from the files themselves.

use std::path::Path;

use prompt_data::{AnswerSlot, SpecialTokensSpec};

use crate::error::{LoadError, ModelError};
use crate::gguf::GgufFile;
use crate::hf_dir::HfDir;

/// The backbone families implemented here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFamily {
    /// Llama-architecture causal LMs (SmolLM2, Llama): answer slot after the template.
    Llama,
    /// BERT masked LMs: answer slot at `[MASK]`.
    Bert,
}

impl ModelFamily {
    /// The architecture names accepted, as written in `config.json` `model_type` and GGUF
    /// `general.architecture`.
    pub const SUPPORTED: &'static [&'static str] = &["bert", "llama"];

    /// The family of the architecture name `name` (`"bert"`, `"llama"`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "bert" => Some(Self::Bert),
            "llama" => Some(Self::Llama),
            _ => None,
        }
    }

    /// Where the family reads the answer and which special tokens frame the text: a causal LM
    /// continues the template with no BOS (PEFT semantics), BERT fills `[MASK]` inside
    /// `[CLS] … [SEP]`.
    pub fn encoding(self) -> (AnswerSlot, SpecialTokensSpec) {
        match self {
            Self::Llama => (AnswerSlot::NextToken, SpecialTokensSpec::default()),
            Self::Bert => (
                AnswerSlot::MaskToken {
                    token: "[MASK]".to_string(),
                },
                SpecialTokensSpec::bert(),
            ),
        }
    }

    /// Detects the family: a directory by its `config.json` `model_type`, a `.gguf` file by
    /// its `general.architecture`. Other architectures are an error naming what was found.
    pub fn detect(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref();
        let found = if path.is_dir() {
            HfDir::new(path).model_type()?
        } else {
            GgufFile::open(path)?
                .get_str("general.architecture")?
                .to_string()
        };
        Self::from_name(&found).ok_or_else(|| {
            LoadError::UnsupportedFamily {
                path: path.to_path_buf(),
                found,
            }
            .into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_name_maps_to_a_family() {
        for name in ModelFamily::SUPPORTED {
            assert!(ModelFamily::from_name(name).is_some(), "{name}");
        }
        assert_eq!(ModelFamily::from_name("bert"), Some(ModelFamily::Bert));
        assert_eq!(ModelFamily::from_name("llama"), Some(ModelFamily::Llama));
        assert_eq!(ModelFamily::from_name("qwen2"), None);
    }
}

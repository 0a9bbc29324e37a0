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
    /// Gemma 3 causal LMs: answer slot after the template, `<bos>` before the text.
    Gemma3,
}

impl ModelFamily {
    /// The architecture names accepted, as written in `config.json` `model_type` and GGUF
    /// `general.architecture`.
    pub const SUPPORTED: &'static [&'static str] = &["bert", "gemma3", "llama"];

    /// The family of the architecture name `name` (`"bert"`, `"gemma3"`, `"llama"`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "bert" => Some(Self::Bert),
            "gemma3" => Some(Self::Gemma3),
            "llama" => Some(Self::Llama),
            _ => None,
        }
    }

    /// Where the family reads the answer and which special tokens frame the text: a causal LM
    /// continues the template, BERT fills `[MASK]` inside `[CLS] … [SEP]`. The special tokens
    /// are what the model's tokenizer adds (PEFT semantics: the prompt rows go before them):
    /// none for SmolLM2's GGUF, `<bos>` for Gemma's (`add_bos_token` true).
    pub fn encoding(self) -> (AnswerSlot, SpecialTokensSpec) {
        match self {
            Self::Llama => (AnswerSlot::NextToken, SpecialTokensSpec::default()),
            Self::Gemma3 => (
                AnswerSlot::NextToken,
                SpecialTokensSpec {
                    prefix: vec!["<bos>".to_string()],
                    suffix: Vec::new(),
                },
            ),
            Self::Bert => (
                AnswerSlot::MaskToken {
                    token: "[MASK]".to_string(),
                },
                SpecialTokensSpec::bert(),
            ),
        }
    }

    /// The `task_type` of a PEFT `adapter_config.json` for this family.
    pub fn peft_task_type(self) -> &'static str {
        match self {
            Self::Llama | Self::Gemma3 => "CAUSAL_LM",
            Self::Bert => "SEQ_CLS",
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
        assert_eq!(ModelFamily::from_name("gemma3"), Some(ModelFamily::Gemma3));
        assert_eq!(ModelFamily::from_name("qwen2"), None);
    }
}

//! Loading whichever backbone a model path holds (llama GGUF, llama or BERT Hugging Face
//! folder) with its tokenizer, and handing it to code that is generic over the backbone.

use std::path::Path;

use burn::module::{Module, ModuleDisplay};
use burn::tensor::Device;
use prompt_data::Tokenizer;
use prompt_model::gguf::GgufFile;
use prompt_model::tokenizer::{load_tokenizer_json, tokenizer_from_gguf};
use prompt_model::{Backbone, Bert, HfDir, Llama, ModelFamily};

use crate::error::TrainError;

/// Work to do with a loaded backbone, whatever its family.
pub trait WithBackbone {
    /// What the work produces.
    type Output;
    /// Does the work with the backbone, its tokenizer and its family.
    fn run<B: Backbone + Module + ModuleDisplay>(
        self,
        backbone: B,
        tokenizer: &Tokenizer,
        family: ModelFamily,
    ) -> Result<Self::Output, TrainError>;
}

/// Loads the model at `path` onto `device` (use an autodiff device to train) and runs `work`
/// with it. The family is detected from the files: a `.gguf` file by its architecture, a
/// folder by its `config.json`.
pub fn with_backbone<W: WithBackbone>(
    path: &Path,
    device: &Device,
    work: W,
) -> Result<W::Output, TrainError> {
    if !path.exists() {
        return Err(TrainError::ModelMissing {
            path: path.to_path_buf(),
        });
    }
    let family = ModelFamily::detect(path)?;
    match family {
        ModelFamily::Llama if path.is_dir() => {
            let tokenizer = load_tokenizer_json(HfDir::new(path).tokenizer_path())?;
            work.run(Llama::from_hf_dir(path, device)?, &tokenizer, family)
        }
        ModelFamily::Llama => {
            let tokenizer = tokenizer_from_gguf(&GgufFile::open(path)?)?;
            work.run(Llama::from_gguf(path, device)?, &tokenizer, family)
        }
        ModelFamily::Bert => {
            let tokenizer = load_tokenizer_json(HfDir::new(path).tokenizer_path())?;
            work.run(Bert::from_hf_dir(path, device)?, &tokenizer, family)
        }
    }
}

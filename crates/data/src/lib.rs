//! Data for soft-prompt tuning: dataset rows (GLUE TSV, CSV, JSONL) become [`Example`]s,
//! a [`Template`] and a tokenizer turn them into [`Encoded`] ids with an answer position, a
//! [`Verbalizer`] says which vocabulary rows score each class, and [`PromptBatcher`] pads
//! them into [`PromptBatch`] tensors, in batches of similar length from [`bucketed_batches`].
//!
//! ```text
//! rows -> Example { fields, label } -> Encoded { ids, answer_pos, label } -> PromptBatch
//! ```
#![warn(missing_docs)]

mod archive;
mod batch;
mod bucket;
mod encode;
mod error;
mod example;
mod paths;
mod reader;
mod rng;
mod template;
#[cfg(test)]
mod test_support;
mod verbalizer;

pub use archive::{SplitCounts, unpack_sst2_archive};
pub use batch::{PromptBatch, PromptBatcher};
pub use bucket::{
    DEFAULT_CHUNK_BATCHES, bucketed_batches, padding_ratio, shuffled_batches, sorted_batches,
};
pub use encode::{
    AnswerSlot, Encoded, Encoder, EncoderConfig, SpecialTokens, SpecialTokensSpec, Truncation,
};
pub use error::{DataError, MappingProblem, error_chain};
pub use example::{Example, LoadedDataset, SkippedRow};
pub use paths::{
    DATA_ENV, SHARED_ENV, data_search_dirs, resolve_data_path, resolve_in, search_dirs,
};
pub use reader::{
    ColumnMapping, DataFormat, LabelFormat, ReadOptions, parse_dataset, read_dataset,
};
pub use rng::SplitMix64;
pub use template::{MASK_SLOT, Part, Rendered, Template};
pub use tokenizers::Tokenizer;
pub use verbalizer::{LabelWord, MultiTokenPolicy, Verbalizer, VerbalizerSpec};

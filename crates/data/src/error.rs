//! The crate's error type: every variant names the file, line, field, template or token it is
//! about and says what was expected.

use std::path::PathBuf;

/// Everything that can go wrong while reading, rendering, encoding or locating data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be opened, read or written.
    #[error("cannot access {}", .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but this user may not read it.
    #[error(
        "cannot read {}: permission denied; make it readable (`chmod a+r {}`) or point to a \
         readable copy",
        .path.display(),
        .path.display()
    )]
    NotReadable {
        /// The file.
        path: PathBuf,
    },
    /// The file holds no bytes (or only blank lines).
    #[error("{} is empty: expected a header line (TSV, CSV) or one JSON object per line (JSONL)", .path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// The file has a header but no data row.
    #[error("{}:{line}: the header is the last line; the file has no data rows", .path.display())]
    NoRows {
        /// The file.
        path: PathBuf,
        /// The header's line number (1-based).
        line: usize,
    },
    /// Every data row was bad and skipped.
    #[error("{}: all {skipped} data rows were bad and skipped; nothing is left to use", .path.display())]
    NoValidRows {
        /// The file.
        path: PathBuf,
        /// How many rows were skipped.
        skipped: usize,
    },
    /// A line is not valid UTF-8.
    #[error("{}:{line}:{column}: invalid UTF-8 (byte column {column}); re-encode the file as UTF-8", .path.display())]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// Byte column (1-based) of the first invalid byte in the line.
        column: usize,
        /// The decoding error.
        #[source]
        source: std::str::Utf8Error,
    },
    /// A column (TSV/CSV header) or key (JSONL object) named in the column mapping is absent.
    #[error("{}:{line}: no column `{column}` (available: {}); fix the column mapping or the file", .path.display(), .available.join(", "))]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// Line number (1-based) of the header or row.
        line: usize,
        /// The missing column.
        column: String,
        /// The columns that are present.
        available: Vec<String>,
    },
    /// A TSV row does not have as many tab-separated fields as the header.
    #[error("{}:{line}: {found} tab-separated fields, but the header has {expected}", .path.display())]
    FieldCount {
        /// The file.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields in this row.
        found: usize,
    },
    /// A label that must be an index is not an integer.
    #[error("{}:{line}: label `{value}` in column `{column}` is not an integer; expected an index 0..{count}", .path.display())]
    LabelNotInteger {
        /// The file.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// The label column.
        column: String,
        /// The value found.
        value: String,
        /// Number of label names.
        count: usize,
    },
    /// An integer label does not index a label name.
    #[error("{}:{line}: label index {value} in column `{column}` is out of range; expected 0..{count} (labels: {})", .path.display(), .label_names.join(", "))]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// The label column.
        column: String,
        /// The index found.
        value: String,
        /// Number of label names.
        count: usize,
        /// The label names.
        label_names: Vec<String>,
    },
    /// A label is neither a label name nor (where allowed) an index.
    #[error("{}:{line}: unknown label `{value}` in column `{column}`; expected one of: {}{}", .path.display(), .label_names.join(", "), if *.index_allowed { " (or their index)" } else { "" })]
    UnknownLabel {
        /// The file.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// The label column.
        column: String,
        /// The value found.
        value: String,
        /// The label names.
        label_names: Vec<String>,
        /// Whether an integer index would have been accepted.
        index_allowed: bool,
    },
    /// The CSV parser rejected a record.
    #[error("{}:{line}: malformed CSV", .path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// Line number (1-based) where the record starts.
        line: usize,
        /// The parser's error.
        #[source]
        source: csv::Error,
    },
    /// A JSONL line is not valid JSON.
    #[error("{}:{line}: invalid JSON", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A JSONL line is valid JSON but not an object.
    #[error("{}:{line}: expected a JSON object, found {found}", .path.display())]
    JsonNotObject {
        /// The file.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// The JSON type found.
        found: &'static str,
    },
    /// A JSONL field has the wrong JSON type.
    #[error("{}:{line}: field `{field}` is {found}; expected {expected}", .path.display())]
    JsonFieldType {
        /// The file.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// The field.
        field: String,
        /// The JSON type found.
        found: &'static str,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// The file's extension does not say its format.
    #[error("cannot tell the format of {} from its extension; use .tsv, .csv or .jsonl, or set `format`", .path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The column mapping is unusable.
    #[error("invalid column mapping: {problem}")]
    InvalidMapping {
        /// What is wrong.
        problem: MappingProblem,
    },
    /// A brace in a template has no partner.
    #[error(
        "template {template:?}: `{brace}` at character {position} has no matching brace; write `{{{{` or `}}}}` for a literal brace"
    )]
    UnmatchedBrace {
        /// The template.
        template: String,
        /// 0-based character position of the brace.
        position: usize,
        /// The brace.
        brace: char,
    },
    /// A template slot has no name: `{}`.
    #[error(
        "template {template:?}: empty slot `{{}}` at character {position}; name a field, e.g. `{{sentence}}`, or `{{mask}}`"
    )]
    EmptySlot {
        /// The template.
        template: String,
        /// 0-based character position of the `{`.
        position: usize,
    },
    /// A template does not have exactly one answer slot.
    #[error("template {template:?} has {found} `{{mask}}` slots; it needs exactly one answer slot")]
    MaskCount {
        /// The template.
        template: String,
        /// How many `{mask}` slots it has.
        found: usize,
    },
    /// A template slot names a field the dataset does not have.
    #[error("template {template:?}: slot `{{{slot}}}` is not a dataset field (available: {})", .available.join(", "))]
    UnknownSlot {
        /// The template.
        template: String,
        /// The slot's name.
        slot: String,
        /// The dataset's text fields.
        available: Vec<String>,
    },
    /// A causal LM template has a field after the answer slot, which the model would never
    /// see.
    #[error(
        "template {template:?}: a causal LM predicts the label word from the text before `{{mask}}`, so the field `{{{field}}}` after it would never reach the model; move it before `{{mask}}`"
    )]
    FieldAfterMask {
        /// The template.
        template: String,
        /// The field after the slot.
        field: String,
    },
    /// The verbalizer's class count differs from the dataset's.
    #[error("the verbalizer has label words for {found} classes but the dataset has {expected} ({})", .label_names.join(", "))]
    ClassCount {
        /// Number of classes in the dataset.
        expected: usize,
        /// Number of classes in the verbalizer.
        found: usize,
        /// The dataset's label names.
        label_names: Vec<String>,
    },
    /// A class has no label word.
    #[error("class `{class}` has no label word; give it at least one")]
    NoLabelWords {
        /// The class.
        class: String,
    },
    /// A label word tokenizes to nothing.
    #[error("label word {word:?} of class `{class}` tokenizes to no tokens")]
    EmptyLabelWord {
        /// The class.
        class: String,
        /// The word.
        word: String,
    },
    /// A label word has a token the vocabulary lacks.
    #[error(
        "label word {word:?} of class `{class}` is not in the tokenizer's vocabulary (it becomes {unk_token}); choose a word the vocabulary has"
    )]
    LabelWordUnknown {
        /// The class.
        class: String,
        /// The word.
        word: String,
        /// The tokenizer's unknown token.
        unk_token: String,
    },
    /// A label word is several tokens and the verbalizer wants one.
    #[error(
        "label word {word:?} of class `{class}` is {} tokens ({}); choose a word that is one \
         token, or set verbalizer.multi_token = \"first_token\" or \"mean\" to score its pieces",
        pieces.len(),
        pieces.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>().join(", ")
    )]
    LabelWordSplit {
        /// The class.
        class: String,
        /// The word.
        word: String,
        /// The tokenizer's pieces of the word.
        pieces: Vec<String>,
    },
    /// Two classes' label words start with the same token, so their scores would be equal.
    #[error(
        "label words {word_a:?} (class `{class_a}`) and {word_b:?} (class `{class_b}`) both start with token {token}; the classes cannot be told apart, choose other words"
    )]
    SharedFirstToken {
        /// The shared token id.
        token: u32,
        /// The first word.
        word_a: String,
        /// Its class.
        class_a: String,
        /// The second word.
        word_b: String,
        /// Its class.
        class_b: String,
    },
    /// The tokenizer failed.
    #[error("the tokenizer failed on {input:?}")]
    Tokenizer {
        /// The text being tokenized.
        input: String,
        /// The tokenizer's error.
        #[source]
        source: tokenizers::Error,
    },
    /// A token string is not in the tokenizer's vocabulary.
    #[error(
        "token {token:?} is not in the tokenizer's vocabulary; check the special-token or mask-token configuration"
    )]
    UnknownToken {
        /// The token.
        token: String,
    },
    /// The mask token did not come out as one token at the answer slot.
    #[error(
        "template {template:?}: the mask token {token:?} is not encoded as a single token at the answer slot; the tokenizer must list it as a special token"
    )]
    MaskNotSingleToken {
        /// The template.
        template: String,
        /// The mask token.
        token: String,
    },
    /// An example lacks a field the template uses.
    #[error("the example has no field `{field}` (it has: {}); the template and the column mapping disagree", .available.join(", "))]
    ExampleMissingField {
        /// The field.
        field: String,
        /// The example's fields.
        available: Vec<String>,
    },
    /// Even with empty text fields the input does not fit the model.
    #[error(
        "prompt length {prompt_len} + {fixed_tokens} template and special tokens exceed the model's {max_positions} positions even with empty text fields; shorten the prompt or the template"
    )]
    TooLong {
        /// Soft-prompt length k.
        prompt_len: usize,
        /// Tokens of the template and special tokens alone.
        fixed_tokens: usize,
        /// The model's position limit.
        max_positions: usize,
    },
    /// A causal LM input has no token to predict from.
    #[error(
        "template {template:?} renders to no tokens for this example and there is no prefix token; a causal LM needs at least one token before the answer"
    )]
    NothingToPredictFrom {
        /// The template.
        template: String,
    },
    /// The batch size or chunk size is zero.
    #[error("{what} must be at least 1")]
    ZeroSize {
        /// Which size.
        what: &'static str,
    },
    /// A data file was not found in any of the data folders.
    #[error("{} not found; looked in: {}. To provide SST-2 run `cargo xtask fetch sst2`, or set PROMPT_TUNING_DATA to a folder holding sst2/train.tsv and sst2/dev.tsv from GLUE", .relative.display(), .tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    DataNotFound {
        /// The path asked for, relative to a data folder.
        relative: PathBuf,
        /// Every full path tried, in order.
        tried: Vec<PathBuf>,
    },
    /// A data path names a folder.
    #[error(
        "{} is a directory, not a data file: name the TSV, CSV or JSONL file itself (e.g. \
         sst2/train.tsv)",
        .path.display()
    )]
    DataIsADirectory {
        /// The folder found.
        path: PathBuf,
    },
    /// A zip archive could not be read.
    #[error("cannot read zip archive {}", .path.display())]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The zip error.
        #[source]
        source: zip::result::ZipError,
    },
    /// A zip archive lacks an expected entry.
    #[error("{} has no entry `{entry}` (it has: {}); expected the GLUE SST-2.zip layout", .path.display(), .found.join(", "))]
    ArchiveEntryMissing {
        /// The archive.
        path: PathBuf,
        /// The entry looked for.
        entry: String,
        /// The entries present.
        found: Vec<String>,
    },
    /// A split has a different number of rows than expected.
    #[error("{}: {found} data rows, expected {expected}; the download is incomplete or not the GLUE release", .source_name.display())]
    RowCountMismatch {
        /// The file or archive entry.
        source_name: PathBuf,
        /// Rows expected.
        expected: usize,
        /// Rows found.
        found: usize,
    },
}

/// What is wrong with a column mapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingProblem {
    /// `text_fields` is empty.
    #[error("`text_fields` is empty; name at least one text column")]
    NoTextFields,
    /// `label_names` is empty.
    #[error("`label_names` is empty; name every class")]
    NoLabelNames,
    /// A label name appears twice.
    #[error("label name `{0}` appears twice in `label_names`")]
    DuplicateLabelName(String),
    /// The label column is also a text column.
    #[error("`{0}` is both the label field and a text field")]
    LabelIsText(String),
}

/// Renders an error with its chain of sources, `outer: inner: innermost`, leaving out a
/// source whose message the outer ones already quote.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let message = inner.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = inner.source();
    }
    text
}

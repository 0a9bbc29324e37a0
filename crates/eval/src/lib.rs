//! Evaluation reports, prompt-length / init / seed sweeps and the accuracy regression check
//! build here on `prompt-train`'s evaluation; the crate holds no code yet.
#![warn(missing_docs)]

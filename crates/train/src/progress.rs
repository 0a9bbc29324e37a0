//! Progress output: an indicatif bar (step, loss, examples/s, ETA) on a terminal, plain log
//! lines on stderr otherwise, nothing when quiet.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Always a bar.
    Bar,
    /// Always plain lines.
    Plain,
    /// No output.
    Quiet,
}

/// The progress display of one run.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    total: usize,
}

impl Progress {
    /// A display for a run of `total` steps that starts after `done` steps.
    pub fn new(mode: ProgressMode, total: usize, done: usize) -> Self {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Plain,
            other => other,
        };
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {pos}/{len} steps | {msg} | {elapsed_precise} elapsed, ETA {eta}",
                )
                .expect("the template is valid")
                .progress_chars("=> "),
            );
            bar.set_position(done as u64);
            bar.reset_eta();
            bar
        });
        Self {
            bar,
            plain: mode == ProgressMode::Plain,
            total,
        }
    }

    /// Reports the latest training window.
    pub fn train(&self, step: usize, loss: f64, examples_per_s: f64, lr: f64) {
        let message = format!("loss {loss:.4} | {examples_per_s:.1} ex/s | lr {lr:.3e}");
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            bar.set_message(message);
        } else if self.plain {
            eprintln!("step {step}/{} | {message}", self.total);
        }
    }

    /// Advances the bar without a new loss (plain mode prints only on [`Self::train`]).
    pub fn tick(&self, step: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
        }
    }

    /// Prints a line above the bar (or on stderr).
    pub fn line(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.println(text);
        } else if self.plain {
            eprintln!("{text}");
        }
    }

    /// Leaves the finished bar on screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_shows_step_and_training_numbers() {
        let progress = Progress::new(ProgressMode::Bar, 100, 40);
        let bar = progress.bar.as_ref().expect("bar mode has a bar");
        assert_eq!((bar.position(), bar.length()), (40, Some(100)));
        progress.train(50, 0.5, 12.25, 0.3);
        assert_eq!(bar.position(), 50);
        assert_eq!(bar.message(), "loss 0.5000 | 12.2 ex/s | lr 3.000e-1");
        progress.tick(51);
        assert_eq!(bar.position(), 51);
    }

    #[test]
    fn plain_and_quiet_modes_have_no_bar() {
        assert!(Progress::new(ProgressMode::Plain, 10, 0).bar.is_none());
        assert!(Progress::new(ProgressMode::Plain, 10, 0).plain);
        let quiet = Progress::new(ProgressMode::Quiet, 10, 0);
        assert!(quiet.bar.is_none() && !quiet.plain);
    }
}

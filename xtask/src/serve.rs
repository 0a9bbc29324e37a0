//! `cargo xtask serve --tasks DIR_OR_TOML [--addr 127.0.0.1:8080]`: loads the backbone once
//! and every task's prompts, then answers classification requests over HTTP until SIGTERM or
//! Ctrl-C (after answering what is in flight).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use burn::tensor::Device;
use prompt_serve::{BatchPolicy, Limits, ServeConfig, bind, local_addr, read_tasks, read_token};
use prompt_train::memory::{BatchShape, check_all};

use crate::tasks::{LoadedTasks, load_tasks};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The tasks: a prompt or run folder, a folder of them (each a task named after its
    /// folder), or a .toml file with a [tasks.NAME] table per task (see README "Serving").
    #[arg(long, value_name = "DIR_OR_TOML")]
    pub tasks: PathBuf,
    /// Address to listen on; the default accepts connections from this machine only.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Most rows (inputs times prompts) in one forward pass.
    #[arg(long, default_value_t = 32)]
    pub max_batch: usize,
    /// How long the first waiting request waits for others to share its batch, in ms.
    #[arg(long, default_value_t = 5)]
    pub max_wait_ms: u64,
    /// Most rows waiting at once; requests beyond get 503 with Retry-After.
    #[arg(long, default_value_t = 1024)]
    pub queue_limit: usize,
    /// Most inputs in one request.
    #[arg(long, default_value_t = 256)]
    pub max_inputs: usize,
    /// Longest input text in characters.
    #[arg(long, default_value_t = 20_000)]
    pub max_input_chars: usize,
    /// Longest input in tokens: longer inputs are shortened as in training (and said so in
    /// the answer); a task config's own lower `data.max_tokens` stays. It bounds the memory a
    /// batch can take.
    #[arg(long, default_value_t = 512)]
    pub max_input_tokens: usize,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Seconds a request's headers and body may take to arrive.
    #[arg(long, default_value_t = 10)]
    pub read_timeout_s: u64,
    /// A file holding a bearer token; every route but /healthz then needs
    /// `Authorization: Bearer TOKEN`.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

impl ServeArgs {
    fn config(&self) -> Result<ServeConfig> {
        Ok(ServeConfig {
            batching: BatchPolicy {
                max_batch: self.max_batch.max(1),
                max_wait: Duration::from_millis(self.max_wait_ms),
                queue_limit: self.queue_limit.max(1),
            },
            limits: Limits {
                max_body_bytes: self.max_body_bytes,
                max_inputs: self.max_inputs.max(1),
                max_input_chars: self.max_input_chars,
                read_timeout: Duration::from_secs(self.read_timeout_s.max(1)),
            },
            token: self.token_file.as_deref().map(read_token).transpose()?,
        })
    }
}

pub fn run(args: &ServeArgs, device: &Device) -> Result<()> {
    let config = args.config()?;
    let mut tasks = read_tasks(&args.tasks)?;
    for (_, spec) in &mut tasks {
        spec.max_input_tokens = Some(args.max_input_tokens);
    }
    let LoadedTasks {
        predictor, infos, ..
    } = load_tasks(&tasks, device)?;
    // The largest batch the server forms: max_batch rows of the longest input.
    let shape = BatchShape {
        key: "--max-batch",
        batch: config.batching.max_batch,
        longest: infos.iter().map(|t| t.max_input_tokens).max().unwrap_or(0),
        prompt: infos
            .iter()
            .flat_map(|t| t.prompt_tokens.iter().copied())
            .max()
            .unwrap_or(0),
        training: false,
    };
    check_all(&predictor.model().backbone, &[shape], None)?;
    for task in &infos {
        println!(
            "task {}: {} prompt(s) of {:?} rows, labels {}, template {:?}",
            task.name,
            task.prompts.len(),
            task.prompt_tokens,
            task.labels.join("/"),
            task.template
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = bind(&args.addr).await?;
        println!(
            "serving {} task(s) on http://{} (Ctrl-C or SIGTERM stops)",
            infos.len(),
            local_addr(&listener)?
        );
        prompt_serve::serve(listener, Arc::new(predictor), config, stop_signal()).await?;
        println!("stopped");
        Ok(())
    })
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    eprintln!("stopping: no new connections; answering the requests in flight");
}

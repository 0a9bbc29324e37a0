//! A server on a loopback port over the tiny BERT fixture with three tasks (different
//! templates, label words and prompt lengths), and a client for it.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use burn::tensor::{Device, Distribution, Tensor};
use prompt_eval::predict::Predictor;
use prompt_model::{AdapterConfig, PromptTask, SoftPrompt, SoftPromptInit, save_prompt};
use prompt_serve::{BatchPolicy, Limits, ServeConfig, bind, local_addr, read_tasks};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub fn tiny_bert_dir() -> PathBuf {
    let shared = std::env::var_os("PROMPT_TUNING_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    );
    let dir = shared.join("fixtures/tiny-bert-mlm");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} is missing: set PROMPT_TUNING_SHARED to the folder holding fixtures/",
        dir.display()
    );
    dir
}

/// A run folder (`config.toml` + `best/`) for the tiny BERT with a random `k`-row prompt.
fn run_folder(dir: &Path, k: usize, template: &str, fields: &[&str], words: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    let quoted = |items: &[&str]| {
        items
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let label_words = words
        .iter()
        .map(|w| format!("[{w:?}]"))
        .collect::<Vec<_>>()
        .join(", ");
    let config = format!(
        "output = {output:?}\ntemplate = {template:?}\n\
         [data]\ntrain = \"unused.tsv\"\ndev = \"unused.tsv\"\n\
         [data.columns]\ntext_fields = [{fields}]\nlabel_field = \"label\"\nlabel_names = [{names}]\n\
         [verbalizer]\nlabel_words = [{label_words}]\n\
         [model]\npath = {model:?}\n[prompt]\nlength = {k}\n[train]\neval_batch_size = 8\n",
        output = dir.display().to_string(),
        fields = quoted(fields),
        names = quoted(words),
        model = tiny_bert_dir().display().to_string(),
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let values = Tensor::random([k, 32], Distribution::Normal(0.0, 1.0), &Device::default());
    let task = PromptTask {
        template: template.into(),
        verbalizer: serde_json::json!({ "label_words": words.iter().map(|w| vec![*w]).collect::<Vec<_>>() }),
        label_names: Some(words.iter().map(|w| w.to_string()).collect()),
        model_file: None,
        init: None,
    };
    let adapter = AdapterConfig::new("SEQ_CLS", "tiny", k, 32, &SoftPromptInit::default(), "");
    save_prompt(
        &dir.join("best"),
        &SoftPrompt::from_tensor(values),
        &adapter,
        &task,
    )
    .unwrap();
}

/// Three tasks: `sentiment` (k = 4), `topic` (k = 2, three classes), `entail` (k = 3, two
/// fields).
pub fn three_tasks(root: &Path) -> PathBuf {
    let tasks = root.join("tasks");
    run_folder(
        &tasks.join("sentiment"),
        4,
        "{sentence} it was {mask} .",
        &["sentence"],
        &["good", "bad"],
    );
    run_folder(
        &tasks.join("topic"),
        2,
        "{sentence} topic : {mask}",
        &["sentence"],
        &["sports", "music", "food"],
    );
    run_folder(
        &tasks.join("entail"),
        3,
        "{premise} ? {mask} , {hypothesis}",
        &["premise", "hypothesis"],
        &["yes", "no"],
    );
    tasks
}

/// The tasks of `tasks` loaded on the tiny BERT.
pub fn predictor(tasks: &Path) -> Arc<Predictor> {
    let predictor = Predictor::load(&tiny_bert_dir(), &Device::default()).unwrap();
    for (name, spec) in read_tasks(tasks).unwrap() {
        predictor.register(&name, &spec).unwrap();
    }
    Arc::new(predictor)
}

pub fn config() -> ServeConfig {
    ServeConfig {
        batching: BatchPolicy {
            max_batch: 16,
            max_wait: Duration::from_millis(20),
            queue_limit: 256,
        },
        limits: Limits::default(),
        token: None,
    }
}

/// A server whose worker holds each round open for `wait_ms` (so rows stay queued that long)
/// with room for `queue_limit` rows.
pub fn holding(wait_ms: u64, queue_limit: usize) -> ServeConfig {
    ServeConfig {
        batching: BatchPolicy {
            max_batch: 64,
            max_wait: Duration::from_millis(wait_ms),
            queue_limit,
        },
        ..config()
    }
}

/// A server running on a loopback port until [`TestServer::stop`].
pub struct TestServer {
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), prompt_serve::ServeError>>,
}

impl TestServer {
    pub async fn start(predictor: Arc<Predictor>, config: ServeConfig) -> Self {
        let listener = bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", local_addr(&listener).unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(prompt_serve::serve(listener, predictor, config, async {
            let _ = stopped.await;
        }));
        Self {
            url,
            stop: Some(stop),
            handle,
        }
    }

    /// Asks the server to stop and waits until it has.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.handle.await.unwrap().unwrap();
    }

    /// Asks the server to stop without waiting.
    pub fn begin_stop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
    }

    pub async fn join(self) {
        self.handle.await.unwrap().unwrap();
    }
}

//! `cargo xtask load-test --tasks DIR_OR_TOML`: starts the server on a loopback port in this
//! process, sends a bounded number of classify requests from N concurrent clients over every
//! task, and checks each answer against the offline predictor (same prompts, same model):
//! throughput, p50/p99 latency, wrong answers, failed requests. `--max-batch` lists the batch
//! limits to compare (e.g. `--max-batch 1 32`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use prompt_data::{ColumnMapping, ReadOptions, read_dataset};
use prompt_eval::predict::{Input, Prediction, Predictor, TaskInfo};
use prompt_serve::{BatchPolicy, Limits, ServeConfig, bind, local_addr, read_tasks};
use serde_json::{Value, json};

use crate::tasks::{LoadedTasks, load_tasks};

#[derive(clap::Args)]
pub struct LoadTestArgs {
    /// The tasks to serve (as for `serve`); requests go to each in turn.
    #[arg(long, value_name = "DIR_OR_TOML")]
    tasks: PathBuf,
    /// The texts to send: a TSV, CSV or JSONL file with a `sentence` column.
    #[arg(long, default_value = "../shared/assets/sst2/dev.tsv")]
    data: PathBuf,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Requests in all (at most).
    #[arg(long, default_value_t = 240)]
    requests: usize,
    /// Inputs per request.
    #[arg(long, default_value_t = 4)]
    inputs: usize,
    /// Stop sending after this many seconds even if requests remain.
    #[arg(long, default_value_t = 600)]
    max_seconds: u64,
    /// The server's batch limits to measure, one run each.
    #[arg(long, num_args = 1.., default_values_t = [32])]
    max_batch: Vec<usize>,
    /// The server's batching window in ms.
    #[arg(long, default_value_t = 5)]
    max_wait_ms: u64,
}

/// One request to send and the answers the offline predictor gives it.
struct Planned {
    task: String,
    texts: Vec<String>,
    expected: Vec<Prediction>,
}

/// What one run measured.
struct Outcome {
    sent: usize,
    answered: usize,
    failed: usize,
    wrong: usize,
    largest_difference: f32,
    seconds: f64,
    latencies: Vec<Duration>,
}

pub fn run(args: &LoadTestArgs, device: &Device) -> Result<()> {
    let tasks = read_tasks(&args.tasks)?;
    let LoadedTasks {
        predictor, infos, ..
    } = load_tasks(&tasks, device)?;
    let predictor = Arc::new(predictor);
    let plan = plan(args, &predictor, &infos)?;
    println!(
        "{} requests of {} inputs over {} tasks ({}), {} clients, loopback",
        plan.len(),
        args.inputs,
        infos.len(),
        infos
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        args.clients
    );
    println!("max batch  requests  answered  failed  wrong  inputs/s  requests/s  p50 ms  p99 ms");
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let mut clean = true;
    for &max_batch in &args.max_batch {
        let outcome = runtime.block_on(run_once(args, max_batch, &predictor, &plan))?;
        let inputs = outcome.answered * args.inputs;
        println!(
            "{max_batch:>9}  {:>8}  {:>8}  {:>6}  {:>5}  {:>8.2}  {:>10.2}  {:>6.0}  {:>6.0}",
            outcome.sent,
            outcome.answered,
            outcome.failed,
            outcome.wrong,
            inputs as f64 / outcome.seconds,
            outcome.answered as f64 / outcome.seconds,
            percentile(&outcome.latencies, 0.50),
            percentile(&outcome.latencies, 0.99),
        );
        println!(
            "           largest probability difference from the offline predictor: {:e}",
            outcome.largest_difference
        );
        clean &= outcome.failed == 0 && outcome.wrong == 0;
    }
    if !clean {
        bail!("some requests failed or were answered differently from the offline predictor");
    }
    Ok(())
}

/// The requests, round-robin over the tasks, each with its offline answers.
fn plan(args: &LoadTestArgs, predictor: &Predictor, infos: &[TaskInfo]) -> Result<Vec<Planned>> {
    let mapping = ColumnMapping::unlabelled(vec!["sentence".into()]);
    let texts: Vec<String> = read_dataset(&args.data, &mapping, &ReadOptions::default())?
        .examples
        .into_iter()
        .map(|e| e.fields["sentence"].clone())
        .collect();
    let mut planned = Vec::with_capacity(args.requests);
    for r in 0..args.requests {
        let task = &infos[r % infos.len()];
        let texts: Vec<String> = (0..args.inputs)
            .map(|i| texts[(r * args.inputs + i) % texts.len()].clone())
            .collect();
        planned.push((task.name.clone(), texts));
    }
    // Offline answers, every request's rows in shared batches.
    let rows = planned
        .iter()
        .flat_map(|(task, texts)| texts.iter().map(move |t| (task, t)))
        .map(|(task, text)| predictor.prepare(task, &Input::Text(text.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let mut expected = predictor.score(&rows, 32, |_| {}).into_iter();
    Ok(planned
        .into_iter()
        .map(|(task, texts)| Planned {
            expected: expected.by_ref().take(texts.len()).collect(),
            task,
            texts,
        })
        .collect())
}

/// Serves on a free loopback port with `max_batch` and sends the plan from the clients.
async fn run_once(
    args: &LoadTestArgs,
    max_batch: usize,
    predictor: &Arc<Predictor>,
    plan: &[Planned],
) -> Result<Outcome> {
    let listener = bind("127.0.0.1:0").await?;
    let url = format!("http://{}/v1/classify", local_addr(&listener)?);
    let config = ServeConfig {
        batching: BatchPolicy {
            max_batch,
            max_wait: Duration::from_millis(args.max_wait_ms),
            queue_limit: (args.clients * args.inputs).max(max_batch) * 4,
        },
        limits: Limits::default(),
        token: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(prompt_serve::serve(
        listener,
        predictor.clone(),
        config,
        async {
            let _ = stopped.await;
        },
    ));
    let bodies: Arc<Vec<Value>> = Arc::new(
        plan.iter()
            .map(|p| json!({ "task": p.task, "inputs": p.texts }))
            .collect(),
    );
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    let start = Instant::now();
    let clients: Vec<_> = (0..args.clients.max(1))
        .map(|_| {
            let (client, url, next, bodies) =
                (client.clone(), url.clone(), next.clone(), bodies.clone());
            tokio::spawn(async move {
                let mut results = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= bodies.len() || Instant::now() > deadline {
                        return results;
                    }
                    let sent = Instant::now();
                    let answer = match client.post(&url).json(&bodies[i]).send().await {
                        Ok(response) if response.status().is_success() => {
                            response.json::<Value>().await.ok()
                        }
                        _ => None,
                    };
                    results.push((i, sent.elapsed(), answer));
                }
            })
        })
        .collect();
    let mut results = Vec::new();
    for client in clients {
        results.extend(client.await.context("a client task failed")?);
    }
    let seconds = start.elapsed().as_secs_f64();
    let _ = stop.send(());
    server.await.context("the server task failed")??;
    let mut outcome = Outcome {
        sent: 0,
        answered: 0,
        failed: 0,
        wrong: 0,
        largest_difference: 0.0,
        seconds,
        latencies: Vec::new(),
    };
    for (i, latency, answer) in results {
        outcome.sent += 1;
        let Some(answer) = answer else {
            outcome.failed += 1;
            continue;
        };
        outcome.answered += 1;
        outcome.latencies.push(latency);
        match compare(&answer, &plan[i], predictor) {
            Some(difference) if difference < 1e-5 => {
                outcome.largest_difference = outcome.largest_difference.max(difference);
            }
            Some(difference) => {
                outcome.wrong += 1;
                outcome.largest_difference = outcome.largest_difference.max(difference);
            }
            None => outcome.wrong += 1,
        }
    }
    Ok(outcome)
}

/// The largest probability difference between an HTTP answer and the offline predictions;
/// `None` when a label or the shape differs.
fn compare(answer: &Value, planned: &Planned, predictor: &Predictor) -> Option<f32> {
    let labels = predictor
        .tasks()
        .into_iter()
        .find(|t| t.name == planned.task)?
        .labels;
    let predictions = answer.get("predictions")?.as_array()?;
    if predictions.len() != planned.expected.len() {
        return None;
    }
    let mut largest = 0.0f32;
    for (got, expected) in predictions.iter().zip(&planned.expected) {
        if got.get("label")?.as_str()? != expected.label {
            return None;
        }
        for (label, p) in labels.iter().zip(&expected.probabilities) {
            let served = got.get("probabilities")?.get(label)?.as_f64()? as f32;
            largest = largest.max((served - p).abs());
        }
    }
    Some(largest)
}

/// The `q` quantile of `latencies` in milliseconds.
fn percentile(latencies: &[Duration], q: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let mut sorted: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index]
}

//! Batching across requests and tasks: handlers queue their encoded rows; one worker thread
//! takes what arrives within a short window (up to a row limit) and scores it in shared,
//! mixed-task forward passes, then answers each request with its own predictions.
//!
//! The queue is bounded in rows, so memory stays bounded under load: a request that would
//! overflow it is refused at once. A request whose client went away before its batch started
//! is dropped without being scored.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prompt_eval::predict::{Prediction, Predictor, Row};
use tokio::sync::oneshot;

use crate::metrics::Metrics;

/// How the worker forms batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Most rows scored in one forward pass (and gathered into one round).
    pub max_batch: usize,
    /// How long the first request of a round waits for others to join it.
    pub max_wait: Duration,
    /// Most rows waiting at once; more are refused.
    pub queue_limit: usize,
}

/// One request's rows and where its answer goes.
struct Job {
    rows: Vec<Row>,
    reply: oneshot::Sender<Vec<Prediction>>,
}

/// Why rows could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue holds too many rows already.
    QueueFull {
        /// The queue's limit in rows.
        limit: usize,
    },
    /// The server is shutting down.
    Stopped,
}

/// The handlers' side of the queue.
#[derive(Clone)]
pub struct Batcher {
    sender: Arc<Mutex<Option<Sender<Job>>>>,
    queued: Arc<AtomicUsize>,
    policy: BatchPolicy,
}

impl Batcher {
    /// Starts the worker thread that scores with `predictor`.
    pub fn start(
        predictor: Arc<Predictor>,
        policy: BatchPolicy,
        metrics: Arc<Metrics>,
    ) -> (Self, JoinHandle<()>) {
        let (sender, receiver) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let worker = Worker {
            predictor,
            receiver,
            queued: queued.clone(),
            policy,
            metrics,
        };
        let handle = std::thread::Builder::new()
            .name("batcher".into())
            .spawn(move || worker.run())
            .expect("the system can start a thread");
        let batcher = Self {
            sender: Arc::new(Mutex::new(Some(sender))),
            queued,
            policy,
        };
        (batcher, handle)
    }

    /// Queues `rows`; the receiver gets their predictions, in order.
    pub fn submit(&self, rows: Vec<Row>) -> Result<oneshot::Receiver<Vec<Prediction>>, Refused> {
        let n = rows.len();
        let limit = self.policy.queue_limit;
        self.queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |queued| {
                (queued + n <= limit).then_some(queued + n)
            })
            .map_err(|_| Refused::QueueFull { limit })?;
        let (reply, answer) = oneshot::channel();
        let sender = self
            .sender
            .lock()
            .expect("no thread panics holding the sender");
        let sent = sender
            .as_ref()
            .is_some_and(|s| s.send(Job { rows, reply }).is_ok());
        if !sent {
            self.queued.fetch_sub(n, Ordering::SeqCst);
            return Err(Refused::Stopped);
        }
        Ok(answer)
    }

    /// Rows waiting now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Lets the worker finish what is queued and stop.
    pub fn close(&self) {
        self.sender
            .lock()
            .expect("no thread panics holding the sender")
            .take();
    }
}

struct Worker {
    predictor: Arc<Predictor>,
    receiver: Receiver<Job>,
    queued: Arc<AtomicUsize>,
    policy: BatchPolicy,
    metrics: Arc<Metrics>,
}

impl Worker {
    fn run(self) {
        while let Some(jobs) = self.next_round() {
            self.answer(jobs);
        }
    }

    /// Waits for a request, then gathers others for up to `max_wait` or `max_batch` rows.
    /// `None` once the queue is closed and empty.
    fn next_round(&self) -> Option<Vec<Job>> {
        let first = self.receiver.recv().ok()?;
        let deadline = Instant::now() + self.policy.max_wait;
        let mut rows = first.rows.len();
        let mut jobs = vec![first];
        while rows < self.policy.max_batch {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(left) {
                Ok(job) => {
                    rows += job.rows.len();
                    jobs.push(job);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        Some(jobs)
    }

    /// Scores the round's rows in shared batches and answers each request.
    fn answer(&self, jobs: Vec<Job>) {
        let (live, gone): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|job| !job.reply.is_closed());
        let dropped: usize = gone.iter().map(|job| job.rows.len()).sum();
        if dropped > 0 {
            self.metrics.dropped_rows(dropped);
            self.queued.fetch_sub(dropped, Ordering::SeqCst);
        }
        let rows: Vec<Row> = live.iter().flat_map(|job| job.rows.clone()).collect();
        if rows.is_empty() {
            return;
        }
        let mut predictions = self
            .predictor
            .score(&rows, self.policy.max_batch, |n| self.metrics.batch(n))
            .into_iter();
        self.queued.fetch_sub(rows.len(), Ordering::SeqCst);
        for job in live {
            let answer: Vec<Prediction> = predictions.by_ref().take(job.rows.len()).collect();
            // A client that left meanwhile simply gets nothing.
            let _ = job.reply.send(answer);
        }
    }
}

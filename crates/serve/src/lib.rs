//! An HTTP server for prompt tuning's second half: one frozen backbone, loaded once, serves the
//! trained prompts of many tasks, and requests that arrive together share forward passes
//! (mixed-task batches).
//!
//! ```text
//! POST /v1/classify {"task", "inputs"} -> encode (blocking pool) -> bounded queue
//!   -> batching worker: rows of every waiting request, any task -> Predictor::score
//!   -> each request's predictions
//! ```
//!
//! Routes: `POST /v1/classify`, `GET /v1/tasks`, `GET /healthz`, `GET /metrics` (Prometheus).
//! With a token, every route but `/healthz` needs `Authorization: Bearer TOKEN`.
#![warn(missing_docs)]

mod api;
mod batcher;
mod error;
mod metrics;
mod tasks;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prompt_eval::predict::Predictor;
use tokio::net::TcpListener;

pub use api::{ApiError, Limits, parse_classify};
pub use batcher::BatchPolicy;
pub use error::ServeError;
pub use metrics::Metrics;
pub use tasks::read_tasks;

use api::App;
use batcher::Batcher;

/// How the server listens, batches and limits requests.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Batching across requests.
    pub batching: BatchPolicy,
    /// Per-request limits.
    pub limits: Limits,
    /// The bearer token every route but `/healthz` requires, when set.
    pub token: Option<String>,
}

/// Reads a bearer token from `path` (surrounding whitespace dropped; it must not be empty).
pub fn read_token(path: &Path) -> Result<String, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let token = text.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(ServeError::Token {
            path: path.to_path_buf(),
            reason: "the token file must hold one token without spaces".into(),
        });
    }
    Ok(token.to_string())
}

/// Binds `addr` (port 0: any free port).
pub async fn bind(addr: &str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// Serves `predictor`'s tasks on `listener` until `shutdown` completes; then it stops
/// accepting, answers every request already received, and returns.
pub async fn serve(
    listener: TcpListener,
    predictor: Arc<Predictor>,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let metrics = Arc::new(Metrics::default());
    let (batcher, worker) = Batcher::start(predictor.clone(), config.batching, metrics.clone());
    let app = Arc::new(App {
        predictor,
        batcher: batcher.clone(),
        metrics,
        limits: config.limits,
        token: config.token,
    });
    let router = router(app);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors and the like: let open connections finish.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(TokioTimer::new())
                    .header_read_timeout(config.limits.read_timeout);
                let service = TowerToHyperService::new(router.clone());
                let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    // A client that breaks its connection ends only its own requests.
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
    batcher.close();
    tokio::task::spawn_blocking(move || worker.join())
        .await
        .ok();
    Ok(())
}

/// The routes, the token check and the request metrics.
fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/classify", post(api::classify))
        .route("/v1/tasks", get(api::tasks))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .fallback(api::no_route)
        .method_not_allowed_fallback(api::wrong_method)
        .layer(middleware::from_fn_with_state(app.clone(), require_token))
        .layer(middleware::from_fn_with_state(app.clone(), count_request))
        .with_state(app)
}

/// Answers 401 unless the request carries the server's bearer token (`/healthz` is open).
async fn require_token(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let Some(token) = &app.token else {
        return next.run(request).await;
    };
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given.is_some_and(|given| same_secret(given, token)) {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "this server needs a token: send `Authorization: Bearer TOKEN`",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        "Bearer".parse().expect("a valid header"),
    );
    response
}

/// Compares in time that does not depend on where the strings differ.
fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// Counts every answer by route and status, with its latency.
async fn count_request(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", |p| p.as_str())
        .to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    app.metrics
        .request(&route, response.status().as_u16(), start.elapsed());
    response
}

/// The address a listener is bound to.
pub fn local_addr(listener: &TcpListener) -> Result<SocketAddr, ServeError> {
    listener.local_addr().map_err(|source| ServeError::Bind {
        addr: "the listener".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("ab", "abc"));
    }
}

//! The HTTP API: `POST /v1/classify`, `GET /v1/tasks`, `GET /healthz`, `GET /metrics`. Every
//! failure is a JSON error that says what was wrong and, for limits, what the limit is.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prompt_eval::EvalError;
use prompt_eval::predict::{Input, NamedPrediction, Predictor};
use serde::Serialize;
use serde_json::{Value, json};

use crate::batcher::{Batcher, Refused};
use crate::metrics::Metrics;

/// What one request may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Most inputs in one request.
    pub max_inputs: usize,
    /// Longest input text in characters (longer token sequences are shortened as in training;
    /// this bounds the work of tokenizing).
    pub max_input_chars: usize,
    /// How long a request's headers and body may take to arrive.
    pub read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1 << 20,
            max_inputs: 256,
            max_input_chars: 20_000,
            read_timeout: Duration::from_secs(10),
        }
    }
}

/// What the handlers share.
pub struct App {
    pub(crate) predictor: Arc<Predictor>,
    pub(crate) batcher: Batcher,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) limits: Limits,
    pub(crate) token: Option<String>,
}

/// A failed request: its status and a JSON body `{"error": {"status", "message", …}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// More fields of the error object (e.g. the known tasks, the limit).
    extra: Option<Value>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            extra: None,
            retry_after: None,
        }
    }

    fn with(mut self, extra: Value) -> Self {
        self.extra = Some(extra);
        self
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn too_large(message: impl Into<String>, limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message).with(json!({ "limit": limit }))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "status": self.status.as_u16(), "message": self.message });
        if let (Some(Value::Object(extra)), Some(object)) = (self.extra, error.as_object_mut()) {
            object.extend(extra);
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// `GET /healthz`.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /v1/tasks`.
pub async fn tasks(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({ "tasks": app.predictor.tasks() }))
}

/// `GET /metrics`.
pub async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(app.batcher.queued()),
    )
}

/// The answer to `POST /v1/classify`.
#[derive(Serialize)]
struct Classified<'a> {
    task: &'a str,
    predictions: Vec<NamedPrediction<'a>>,
}

/// `POST /v1/classify` with `{"task": NAME, "inputs": [TEXT or {FIELD: TEXT}, …]}`.
pub async fn classify(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(&headers, body, &app.limits).await?;
    let (task, inputs) = parse_classify(&bytes, &app.limits)?;
    // Tokenizing is CPU work: off the async threads.
    let predictor = app.predictor.clone();
    let (task, rows) = tokio::task::spawn_blocking(move || {
        let rows = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                predictor
                    .prepare(&task, input)
                    .map_err(|e| input_error(i, e))
            })
            .collect::<Result<Vec<_>, _>>();
        (task, rows)
    })
    .await
    .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed"))?;
    let rows = rows?;
    let labels = rows[0].task_info().labels.clone();
    let answer = app.batcher.submit(rows).map_err(|refused| match refused {
        Refused::QueueFull { limit } => ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the queue is full ({limit} inputs waiting); retry in a moment"),
            )
            .with(json!({ "limit": limit }))
        },
        Refused::Stopped => stopping(),
    })?;
    let predictions = answer.await.map_err(|_| stopping())?;
    let named = predictions.iter().map(|p| p.named(&labels)).collect();
    Ok(Json(Classified {
        task: &task,
        predictions: named,
    })
    .into_response())
}

fn stopping() -> ApiError {
    ApiError {
        retry_after: Some(1),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )
    }
}

/// The body, within the size limit and the read timeout.
async fn read_body(headers: &HeaderMap, body: Body, limits: &Limits) -> Result<Bytes, ApiError> {
    let limit = limits.max_body_bytes;
    let too_large = || {
        ApiError::too_large(
            format!("the request body is larger than {limit} bytes; send fewer or shorter inputs"),
            limit,
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    match tokio::time::timeout(limits.read_timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                limits.read_timeout.as_secs_f64()
            ),
        )),
        Ok(Err(_)) if declared.is_none_or(|n| n <= limit) => Err(ApiError::bad(
            "the request body could not be read (the client closed it early?)",
        )),
        Ok(Err(_)) => Err(too_large()),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

/// The task name and inputs of a classify body, or an error naming the field at fault.
pub fn parse_classify(bytes: &[u8], limits: &Limits) -> Result<(String, Vec<Input>), ApiError> {
    const SHAPE: &str = r#"send {"task": "NAME", "inputs": ["text", ...]}"#;
    let body: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad(format!("the body is not valid JSON ({e}); {SHAPE}")))?;
    let Value::Object(body) = body else {
        return Err(ApiError::bad(format!(
            "the body must be a JSON object; {SHAPE}"
        )));
    };
    if let Some(unknown) = body.keys().find(|k| *k != "task" && *k != "inputs") {
        return Err(field_error(
            unknown,
            format!("unknown field `{unknown}`; {SHAPE}"),
        ));
    }
    let task = match body.get("task") {
        None => {
            return Err(field_error(
                "task",
                format!("missing field `task`; {SHAPE}"),
            ));
        }
        Some(Value::String(task)) => task.clone(),
        Some(_) => return Err(field_error("task", "field `task` must be a string")),
    };
    let inputs = match body.get("inputs") {
        None => {
            return Err(field_error(
                "inputs",
                format!("missing field `inputs`; {SHAPE}"),
            ));
        }
        Some(Value::Array(inputs)) => inputs,
        Some(_) => {
            return Err(field_error(
                "inputs",
                "field `inputs` must be an array of texts",
            ));
        }
    };
    if inputs.is_empty() {
        return Err(field_error(
            "inputs",
            "field `inputs` is empty: give at least one text",
        ));
    }
    if inputs.len() > limits.max_inputs {
        return Err(ApiError::too_large(
            format!(
                "`inputs` has {} inputs; the limit is {} per request: split it",
                inputs.len(),
                limits.max_inputs
            ),
            limits.max_inputs,
        ));
    }
    let inputs = inputs
        .iter()
        .enumerate()
        .map(|(i, value)| parse_input(i, value, limits))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((task, inputs))
}

fn parse_input(i: usize, value: &Value, limits: &Limits) -> Result<Input, ApiError> {
    let field = format!("inputs[{i}]");
    let checked = |text: &str, name: &str| {
        let chars = text.chars().count();
        if chars > limits.max_input_chars {
            return Err(ApiError::too_large(
                format!(
                    "`{name}` is {chars} characters; the limit is {}",
                    limits.max_input_chars
                ),
                limits.max_input_chars,
            )
            .with(json!({ "field": name })));
        }
        Ok(text.to_string())
    };
    match value {
        Value::String(text) => Ok(Input::Text(checked(text, &field)?)),
        Value::Object(fields) => fields
            .iter()
            .map(|(name, value)| match value {
                Value::String(text) => {
                    Ok((name.clone(), checked(text, &format!("{field}.{name}"))?))
                }
                _ => Err(field_error(
                    &format!("{field}.{name}"),
                    format!("`{field}.{name}` must be a string"),
                )),
            })
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map(Input::Fields),
        _ => Err(field_error(
            &field,
            format!("`{field}` must be a text, or an object of texts by template field"),
        )),
    }
}

fn field_error(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad(message).with(json!({ "field": field }))
}

/// A request whose input `i` could not be encoded.
fn input_error(i: usize, error: EvalError) -> ApiError {
    match error {
        EvalError::UnknownTask { task, known } => ApiError::new(
            StatusCode::NOT_FOUND,
            format!("unknown task `{task}`; the tasks are: {}", known.join(", ")),
        )
        .with(json!({ "field": "task", "tasks": known })),
        other => field_error(&format!("inputs[{i}]"), format!("inputs[{i}]: {other}")),
    }
}

/// The body of an unknown route.
pub async fn no_route(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route {method} {}; the routes are POST /v1/classify, GET /v1/tasks, GET /healthz, \
             GET /metrics",
            uri.path()
        ),
    )
}

/// The body of a known route asked with the wrong method.
pub async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not take {method}", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<(String, Vec<Input>), (u16, String)> {
        parse_classify(body.as_bytes(), &Limits::default())
            .map_err(|e| (e.status.as_u16(), e.message))
    }

    #[test]
    fn a_classify_body_gives_the_task_and_its_inputs() {
        let (task, inputs) =
            parse(r#"{"task": "sst2", "inputs": ["good", {"premise": "a", "hypothesis": "b"}]}"#)
                .unwrap();
        assert_eq!(task, "sst2");
        assert_eq!(inputs[0], Input::Text("good".into()));
        assert!(matches!(&inputs[1], Input::Fields(f) if f["hypothesis"] == "b"));
    }

    #[test]
    fn each_malformed_body_names_what_is_wrong() {
        let cases = [
            (
                "{",
                "the body is not valid JSON (EOF while parsing an object at line 1 column 1)",
            ),
            ("[1]", "the body must be a JSON object"),
            (r#"{"inputs": ["x"]}"#, "missing field `task`"),
            (r#"{"task": "t"}"#, "missing field `inputs`"),
            (
                r#"{"task": 3, "inputs": ["x"]}"#,
                "field `task` must be a string",
            ),
            (
                r#"{"task": "t", "inputs": "x"}"#,
                "field `inputs` must be an array of texts",
            ),
            (r#"{"task": "t", "inputs": []}"#, "field `inputs` is empty"),
            (
                r#"{"task": "t", "inputs": ["a", 5]}"#,
                "`inputs[1]` must be a text",
            ),
            (
                r#"{"task": "t", "inputs": [{"a": 1}]}"#,
                "`inputs[0].a` must be a string",
            ),
            (
                r#"{"task": "t", "inputs": ["x"], "top_k": 2}"#,
                "unknown field `top_k`",
            ),
        ];
        for (body, start) in cases {
            let (status, message) = parse(body).unwrap_err();
            assert_eq!(status, 400, "{body}");
            assert!(message.starts_with(start), "{body}: {message}");
        }
    }

    #[test]
    fn limits_are_413_with_the_limit() {
        let limits = Limits {
            max_inputs: 2,
            max_input_chars: 5,
            ..Limits::default()
        };
        let err =
            parse_classify(br#"{"task": "t", "inputs": ["a", "b", "c"]}"#, &limits).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            err.message,
            "`inputs` has 3 inputs; the limit is 2 per request: split it"
        );
        let err = parse_classify(br#"{"task": "t", "inputs": ["abcdef"]}"#, &limits).unwrap_err();
        assert_eq!(err.message, "`inputs[0]` is 6 characters; the limit is 5");
    }
}

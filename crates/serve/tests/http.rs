//! The server over real HTTP on loopback with a real client and the tiny BERT fixture: answers
//! equal the offline predictor's, and every kind of bad request or overload gets its JSON
//! error.

mod common;

use std::time::Duration;

use common::{TestServer, config, holding, predictor, three_tasks};
use prompt_eval::predict::Input;
use prompt_serve::{Limits, ServeConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn post(url: &str, body: &Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/classify"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn message(answer: &Value) -> &str {
    answer["error"]["message"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_equal_the_offline_predictor_for_concurrent_requests_of_three_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let predictor = predictor(&three_tasks(dir.path()));
    let server = TestServer::start(predictor.clone(), config()).await;
    let texts = [
        "a fine film",
        "dull and slow",
        "the band played well",
        "soup was cold",
    ];
    let requests: Vec<(&str, Value, Vec<Input>)> = vec![
        (
            "sentiment",
            json!(texts),
            texts.iter().map(|t| Input::Text(t.to_string())).collect(),
        ),
        (
            "topic",
            json!(texts[1..]),
            texts[1..]
                .iter()
                .map(|t| Input::Text(t.to_string()))
                .collect(),
        ),
        (
            "entail",
            json!([{"premise": "a man sings", "hypothesis": "someone sings"}]),
            vec![Input::Fields(
                [("premise", "a man sings"), ("hypothesis", "someone sings")]
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .into(),
            )],
        ),
    ];
    let sent = requests.iter().map(|(task, inputs, _)| {
        let url = server.url.clone();
        let body = json!({ "task": task, "inputs": inputs });
        tokio::spawn(async move { post(&url, &body).await })
    });
    let answers: Vec<_> = futures_all(sent.collect()).await;
    for ((task, _, inputs), (status, answer)) in requests.iter().zip(answers) {
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["task"], *task);
        let offline = predictor
            .classify(
                &inputs
                    .iter()
                    .map(|i| (task.to_string(), i.clone()))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        let served = answer["predictions"].as_array().unwrap();
        assert_eq!(served.len(), offline.len());
        let labels = &predictor
            .tasks()
            .into_iter()
            .find(|t| t.name == *task)
            .unwrap()
            .labels;
        for (got, expected) in served.iter().zip(&offline) {
            assert_eq!(got["label"], expected.label.as_str());
            // Batches of other sizes and tasks may change the matmul blocking, and with it the
            // last bits (6e-7 at most in the SmolLM2 load test), never more.
            for (label, p) in labels.iter().zip(&expected.probabilities) {
                let got = got["probabilities"][label].as_f64().unwrap() as f32;
                assert!((got - p).abs() < 1e-5, "{task} {label}: {got} vs {p}");
            }
        }
    }
    server.stop().await;
}

async fn futures_all<T: Send + 'static>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_health_and_metrics_describe_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(predictor(&three_tasks(dir.path())), config()).await;
    let client = reqwest::Client::new();
    let tasks: Value = client
        .get(format!("{}/v1/tasks", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["entail", "sentiment", "topic"]);
    let topic = &tasks["tasks"][2];
    assert_eq!(topic["labels"], json!(["sports", "music", "food"]));
    assert_eq!(topic["template"], "{sentence} topic : {mask}");
    assert_eq!(topic["prompt_tokens"], json!([2]));
    assert!(topic["model"].as_str().unwrap().ends_with("tiny-bert-mlm"));
    let health: Value = client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));
    post(
        &server.url,
        &json!({"task": "sentiment", "inputs": ["good", "bad"]}),
    )
    .await;
    post(&server.url, &json!({"task": "nope", "inputs": ["x"]})).await;
    let metrics = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "prompt_serve_requests_total{route=\"/v1/classify\",status=\"200\"} 1",
        "prompt_serve_requests_total{route=\"/v1/classify\",status=\"404\"} 1",
        "prompt_serve_requests_total{route=\"/v1/tasks\",status=\"200\"} 1",
        "prompt_serve_batch_rows_sum 2",
        "prompt_serve_queue_rows 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in\n{metrics}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_errors_that_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_inputs: 3,
        max_input_chars: 50,
        max_body_bytes: 2_000,
        ..Limits::default()
    };
    let server = TestServer::start(
        predictor(&three_tasks(dir.path())),
        ServeConfig { limits, ..config() },
    )
    .await;
    let client = reqwest::Client::new();
    let raw = |body: &'static str| {
        client
            .post(format!("{}/v1/classify", server.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let response = raw("{\"task\": ").await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: Value = response.json().await.unwrap();
    assert!(
        message(&answer).starts_with("the body is not valid JSON"),
        "{answer}"
    );

    let (status, answer) = post(&server.url, &json!({"inputs": ["x"]})).await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("task"))
    );
    let (status, answer) = post(&server.url, &json!({"task": "nope", "inputs": ["x"]})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        message(&answer),
        "unknown task `nope`; the tasks are: entail, sentiment, topic"
    );
    assert_eq!(
        answer["error"]["tasks"],
        json!(["entail", "sentiment", "topic"])
    );
    let (status, answer) = post(
        &server.url,
        &json!({"task": "entail", "inputs": [{"premise": "p"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        message(&answer),
        "inputs[0]: the input for task `entail` has no field `hypothesis` (the task reads premise, hypothesis)"
    );
    let (status, answer) = post(
        &server.url,
        &json!({"task": "sentiment", "inputs": ["a", " "]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["field"], "inputs[1]");

    let (status, answer) = post(
        &server.url,
        &json!({"task": "topic", "inputs": ["a", "b", "c", "d"]}),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["limit"].as_u64()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some(3))
    );
    let (status, answer) = post(
        &server.url,
        &json!({"task": "topic", "inputs": ["x".repeat(51)]}),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        message(&answer),
        "`inputs[0]` is 51 characters; the limit is 50"
    );
    let (status, answer) = post(
        &server.url,
        &json!({"task": "topic", "inputs": ["y".repeat(3_000)]}),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        message(&answer),
        "the request body is larger than 2000 bytes; send fewer or shorter inputs"
    );

    let response = client
        .get(format!("{}/v2/classify", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let answer: Value = response.json().await.unwrap();
    assert!(
        message(&answer).starts_with("no route GET /v2/classify"),
        "{answer}"
    );
    let response = client
        .get(format!("{}/v1/classify", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    // The worker holds a round open for 1.5 s, so the first request's 3 rows stay queued.
    let server = TestServer::start(predictor(&three_tasks(dir.path())), holding(1_500, 4)).await;
    let url = server.url.clone();
    let first = tokio::spawn(async move {
        post(&url, &json!({"task": "topic", "inputs": ["a", "b", "c"]})).await
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/classify", server.url))
        .json(&json!({"task": "topic", "inputs": ["d", "e"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        message(&answer),
        "the queue is full (4 inputs waiting); retry in a moment"
    );
    assert_eq!(first.await.unwrap().0, StatusCode::OK);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_has_its_work_dropped_and_others_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(predictor(&three_tasks(dir.path())), holding(800, 64)).await;
    let url = server.url.clone();
    let leaving = tokio::spawn(async move {
        post(&url, &json!({"task": "topic", "inputs": ["a", "b", "c"]})).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    leaving.abort();
    let (status, answer) = post(
        &server.url,
        &json!({"task": "sentiment", "inputs": ["fine"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "prompt_serve_dropped_rows_total 3"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "prompt_serve_batch_rows_sum 1"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_partial_body_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        read_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let server = TestServer::start(
        predictor(&three_tasks(dir.path())),
        ServeConfig { limits, ..config() },
    )
    .await;
    let address = server.url.trim_start_matches("http://").to_string();
    // A plain socket (blocking, off the async threads) sends less body than it announced.
    let (answer, closed) = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream
            .write_all(b"POST /v1/classify HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"task\": ")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("the server answers within its read timeout");
        // Headers that never finish: the server closes the connection.
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost:").unwrap();
        let mut rest = Vec::new();
        let closed = stream.read_to_end(&mut rest).is_ok();
        (answer, closed)
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("the request body did not arrive within 0.5 s"),
        "{answer}"
    );
    assert!(
        closed,
        "the server closes a connection whose headers never end"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_answers_the_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(predictor(&three_tasks(dir.path())), holding(600, 64)).await;
    let url = server.url.clone();
    let in_flight =
        tokio::spawn(
            async move { post(&url, &json!({"task": "topic", "inputs": ["a", "b"]})).await },
        );
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.begin_stop();
    let (status, answer) = in_flight.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["predictions"].as_array().unwrap().len(), 2);
    let url = server.url.clone();
    server.join().await;
    assert!(
        reqwest::get(format!("{url}/healthz")).await.is_err(),
        "no new connections after the stop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_every_route_but_healthz() {
    let dir = tempfile::tempdir().unwrap();
    let token = Some("s3cret".to_string());
    let server = TestServer::start(
        predictor(&three_tasks(dir.path())),
        ServeConfig { token, ..config() },
    )
    .await;
    let client = reqwest::Client::new();
    for route in ["/v1/tasks", "/metrics"] {
        let response = client
            .get(format!("{}{route}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{route}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let wrong = client
            .get(format!("{}{route}", server.url))
            .bearer_auth("s3creT")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{route}");
        let right = client
            .get(format!("{}{route}", server.url))
            .bearer_auth("s3cret")
            .send()
            .await
            .unwrap();
        assert_eq!(right.status(), StatusCode::OK, "{route}");
    }
    let response = client
        .post(format!("{}/v1/classify", server.url))
        .json(&json!({"task": "topic", "inputs": ["a"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        message(&answer),
        "this server needs a token: send `Authorization: Bearer TOKEN`"
    );
    let health = client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    server.stop().await;
}

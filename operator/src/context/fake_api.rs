//! A stand-in for the API server, for in-process tests of the IO modules.
//!
//! `reconcile` and `leader` are thin IO around pure decisions, and what they
//! must get right is which requests they send: nothing written while a
//! Secret is missing, a server-side apply under our field manager, a Lease
//! write that carries the resourceVersion it read. A real API server takes
//! seconds to start (the harness in `tests/` runs one); this stand-in is
//! tower-test's mock service behind a real `kube::Client`, so every request
//! goes through kube's own encoding, and no network is needed.
//!
//! It keeps objects by URL path and answers as the API server does for what
//! these modules use: 404 for what does not exist, 409 for a name already
//! taken or a stale resourceVersion, a new resourceVersion on every write.
//! A test can make it refuse one request with a status code. Every request
//! is recorded; a test waiting for one that never comes fails after
//! [`PATIENCE`], naming the requests that did.

use super::Context;
use crate::discovery::DiscoveryCache;
use hyper::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use portcullis_contract::password_pool::PasswordPool;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long a test waits for a request it expects, or for a call to finish.
pub const PATIENCE: Duration = Duration::from_secs(1);

/// One request the stand-in answered.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The HTTP method.
    pub method: Method,
    /// The URL path, without the query.
    pub path: String,
    /// The query string, without `?`.
    pub query: String,
    /// The `Content-Type` header, empty when absent.
    pub content_type: String,
    /// The JSON body, `Null` when empty.
    pub body: Value,
    /// The status code of the answer.
    pub status: u16,
}

impl Seen {
    /// Whether the query has `key=value`.
    pub fn has_query(&self, key: &str, value: &str) -> bool {
        self.query
            .split('&')
            .any(|pair| pair.split_once('=') == Some((key, value)))
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} → {}", self.method, self.path, self.status)
    }
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    refusals: Vec<(Method, String, u16)>,
    seen: Vec<Seen>,
    versions: u64,
}

impl State {
    fn next_version(&mut self) -> String {
        self.versions += 1;
        self.versions.to_string()
    }
}

/// The test's side of the stand-in: what exists, and what was asked.
pub struct ApiServer {
    state: Arc<Mutex<State>>,
    arrivals: watch::Sender<usize>,
}

/// A client whose requests the returned [`ApiServer`] answers.
pub fn client() -> (Client, ApiServer) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = ApiServer {
        state: Arc::default(),
        arrivals: watch::Sender::new(0),
    };
    let state = server.state.clone();
    let arrivals = server.arrivals.clone();
    tokio::spawn(async move {
        while let Some((request, reply)) = handle.next_request().await {
            let (status, body) = answer(&state, request).await;
            let response = Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string().into_bytes()))
                .expect("a valid response");
            reply.send_response(response);
            arrivals.send_modify(|count| *count += 1);
        }
    });
    (Client::new(service, "default"), server)
}

impl Context {
    /// A context whose client talks to the returned [`ApiServer`], with
    /// discovery fetches that give up after [`PATIENCE`].
    pub(crate) fn for_tests() -> (Arc<Context>, ApiServer) {
        let (client, server) = client();
        let reporter = Reporter {
            controller: "portcullis-operator".into(),
            instance: None,
        };
        let context = Context {
            client: client.clone(),
            cluster_version: None,
            sidecar: crate::sidecar_container::tests::options(),
            discovery: DiscoveryCache::new(
                PATIENCE,
                Duration::from_secs(60),
                Duration::from_secs(60),
            ),
            admin_client: crate::sidecar_admin::admin_client(),
            operator_peer: None,
            metrics: Arc::default(),
            recorder: Recorder::new(client, reporter),
            recheck: Duration::from_secs(300),
            retry: Duration::from_secs(30),
            failures: Mutex::default(),
            hashing: PasswordPool::new(1),
            written_status: Mutex::default(),
        };
        (Arc::new(context), server)
    }
}

impl ApiServer {
    /// Makes `object` exist at `path`, with a resourceVersion if it has none.
    pub fn insert(&self, path: &str, object: &impl Serialize) {
        let mut object = serde_json::to_value(object).expect("a serializable object");
        let mut state = self.lock();
        if object["metadata"]["resourceVersion"].is_null() {
            object["metadata"]["resourceVersion"] = json!(state.next_version());
        }
        state.objects.insert(path.to_owned(), object);
    }

    /// Answers every `method` request on `path` with the error `code`.
    pub fn refuse(&self, method: Method, path: &str, code: u16) {
        self.lock().refusals.push((method, path.to_owned(), code));
    }

    /// The object stored at `path`.
    pub fn object(&self, path: &str) -> Option<Value> {
        self.lock().objects.get(path).cloned()
    }

    /// Every request answered so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// Every request answered so far that was not a read.
    pub fn writes(&self) -> Vec<Seen> {
        let mut seen = self.seen();
        seen.retain(|seen| seen.method != Method::GET);
        seen
    }

    /// The first `method` request on `path`; waits up to [`PATIENCE`] for it
    /// and fails the test, naming the requests seen, if it does not come.
    pub async fn expect(&self, method: Method, path: &str) -> Seen {
        let mut arrivals = self.arrivals.subscribe();
        let wait = async {
            loop {
                let found = self
                    .seen()
                    .into_iter()
                    .find(|seen| seen.method == method && seen.path == path);
                if let Some(found) = found {
                    return found;
                }
                if arrivals.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        match tokio::time::timeout(PATIENCE, wait).await {
            Ok(found) => found,
            Err(_) => panic!(
                "no {method} {path} within {PATIENCE:?}; requests seen:\n{}",
                self.listing()
            ),
        }
    }

    /// Fails the test if a request other than a read reached `path`.
    pub fn assert_not_written(&self, path: &str) {
        let writes: Vec<String> = self
            .writes()
            .iter()
            .filter(|seen| seen.path == path)
            .map(ToString::to_string)
            .collect();
        assert!(
            writes.is_empty(),
            "{path} was written: {writes:?}; requests seen:\n{}",
            self.listing()
        );
    }

    /// Runs `call` to its end, failing the test if it takes over [`PATIENCE`].
    pub async fn within<T>(&self, call: impl Future<Output = T>) -> T {
        match tokio::time::timeout(PATIENCE, call).await {
            Ok(output) => output,
            Err(_) => panic!(
                "the call did not finish within {PATIENCE:?}; requests seen:\n{}",
                self.listing()
            ),
        }
    }

    fn listing(&self) -> String {
        let lines: Vec<String> = self.seen().iter().map(|seen| format!("  {seen}")).collect();
        lines.join("\n")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("the stand-in's state")
    }
}

/// Answers one request from `state`: its status code and JSON body.
async fn answer(state: &Mutex<State>, request: Request<Body>) -> (StatusCode, Value) {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = request
        .into_body()
        .collect_bytes()
        .await
        .expect("a readable request body");
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("a JSON request body")
    };
    let mut state = state.lock().expect("the stand-in's state");
    let refused = state
        .refusals
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, code)| *code);
    let (status, answer) = match refused {
        Some(code) => failure(code, refusal_reason(code), "refused by the test"),
        None => respond(&mut state, &method, &path, &content_type, &body),
    };
    state.seen.push(Seen {
        method,
        path,
        query,
        content_type,
        body,
        status: status.as_u16(),
    });
    (status, answer)
}

/// What the API server would do with the request, on the stored objects.
fn respond(
    state: &mut State,
    method: &Method,
    path: &str,
    content_type: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let existing = state.objects.get(path).cloned();
    match *method {
        Method::GET => match existing {
            Some(object) => (StatusCode::OK, object),
            None => not_found(path),
        },
        Method::POST => {
            let name = body["metadata"]["name"].as_str().unwrap_or_default();
            let key = format!("{path}/{name}");
            if state.objects.contains_key(&key) {
                return failure(409, "AlreadyExists", &format!("{key} already exists"));
            }
            store(state, key, body.clone(), StatusCode::CREATED)
        }
        Method::PUT => {
            let Some(existing) = existing else {
                return not_found(path);
            };
            let sent = &body["metadata"]["resourceVersion"];
            if !sent.is_null() && *sent != existing["metadata"]["resourceVersion"] {
                return failure(409, "Conflict", "the object has been modified");
            }
            store(state, path.to_owned(), body.clone(), StatusCode::OK)
        }
        Method::PATCH => {
            let (target, patch) = match path.strip_suffix("/status") {
                Some(object) => (object, json!({ "status": body["status"] })),
                None => (path, body.clone()),
            };
            let applying = content_type.starts_with("application/apply-patch");
            let mut object = match state.objects.get(target).cloned() {
                Some(object) => object,
                None if applying && target == path => json!({}),
                None => return not_found(target),
            };
            json_patch::merge(&mut object, &patch);
            store(state, target.to_owned(), object, StatusCode::OK)
        }
        Method::DELETE => match state.objects.remove(path) {
            Some(object) => (StatusCode::OK, object),
            None => not_found(path),
        },
        _ => failure(405, "MethodNotAllowed", "not served by the stand-in"),
    }
}

fn store(
    state: &mut State,
    key: String,
    mut object: Value,
    status: StatusCode,
) -> (StatusCode, Value) {
    object["metadata"]["resourceVersion"] = json!(state.next_version());
    state.objects.insert(key, object.clone());
    (status, object)
}

fn not_found(path: &str) -> (StatusCode, Value) {
    failure(404, "NotFound", &format!("{path} not found"))
}

/// The API server's reason for an error `code`.
fn refusal_reason(code: u16) -> &'static str {
    match code {
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        422 => "Invalid",
        _ => "InternalError",
    }
}

/// A `Status` body as the API server sends with an error.
fn failure(code: u16, reason: &str, message: &str) -> (StatusCode, Value) {
    let status = StatusCode::from_u16(code).expect("a valid status code");
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    (status, body)
}

/// The path of the namespaced object `name` of kind `K`.
pub fn path<K>(namespace: &str, name: &str) -> String
where
    K: kube::Resource<DynamicType = ()>,
{
    format!("{}/{name}", K::url_path(&(), Some(namespace)))
}

//! The whole stack of one test: servers, workers in-process (each with its own NATS connection,
//! so each is a real replica to NATS) and the edge on a free port.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use common::nats::NatsSettings;

use crate::{MongoServer, NatsServer};

/// The administrator account most tests and benches create (`admin` / `admin password`), to log
/// in as with [`Stack::token`].
pub fn admin_account() -> auth_worker::config::AdminAccount {
    auth_worker::config::AdminAccount {
        username: "admin".into(),
        password: "admin password".into(),
        email: "admin@example.org".into(),
    }
}

/// What a test may change about the stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub auth_workers: usize,
    pub bcrypt_cost: u32,
    pub login_max_failures: u32,
    pub login_lockout: Duration,
    pub access_ttl: Duration,
    pub admin: Option<auth_worker::config::AdminAccount>,
    pub cors_origins: Vec<String>,
    pub body_limit: usize,
    pub max_queued: i64,
    pub per_minute: i64,
    /// Runs without grading a user may ask for a minute.
    pub runs_per_minute: i64,
    /// The judges' ack wait: how soon a dead judge's job goes to another.
    pub job_ack_wait: Duration,
    /// Where the in-process workers serve their Prometheus metrics, if anywhere.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// NATS nodes: 1, or a cluster (every stream, consumer and bucket then gets up to 3 replicas).
    pub nats_nodes: usize,
    /// How long the edge waits for a worker's answer (NATS request timeout).
    pub edge_nats_timeout: Duration,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            auth_workers: 1,
            bcrypt_cost: 4,
            login_max_failures: 5,
            login_lockout: Duration::from_secs(60),
            access_ttl: Duration::from_secs(900),
            admin: None,
            cors_origins: vec!["http://localhost:3000".to_owned()],
            body_limit: 64 * 1024,
            max_queued: 1000,
            per_minute: 1000,
            runs_per_minute: 1000,
            job_ack_wait: common::jobs::ACK_WAIT,
            metrics_addr: None,
            nats_nodes: 1,
            edge_nats_timeout: Duration::from_secs(3),
        }
    }
}

/// A service running in this process, stopped by sending on `stop`.
pub struct Running {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    fn spawn<F, E>(run: impl FnOnce(futures::future::BoxFuture<'static, ()>) -> F) -> Running
    where
        F: std::future::Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let (stop, rx) = oneshot::channel::<()>();
        let shutdown: futures::future::BoxFuture<'static, ()> = Box::pin(async move {
            let _ = rx.await;
        });
        let fut = run(shutdown);
        let task = tokio::spawn(async move {
            if let Err(e) = fut.await {
                panic!("service failed: {e}");
            }
        });
        Running {
            stop: Some(stop),
            task,
        }
    }

    /// Graceful stop: waits until the service has finished its requests.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), &mut self.task).await;
    }
}

pub struct Stack {
    pub nats: NatsServer,
    pub mongo: MongoServer,
    pub options: StackOptions,
    pub private_key: String,
    pub public_key: String,
    pub edge_addr: std::net::SocketAddr,
    pub http: reqwest::Client,
    edge: Option<Running>,
    /// Edges beyond the first, each connected through a node of its own.
    more_edges: Vec<Running>,
    auth: Vec<Running>,
    submission: Vec<Running>,
}

impl Stack {
    pub async fn start(options: StackOptions) -> Stack {
        crate::init_logs();
        let nats = if options.nats_nodes > 1 {
            NatsServer::cluster(options.nats_nodes)
        } else {
            NatsServer::start()
        };
        let mongo = MongoServer::start();
        let (private_key, public_key) = auth_worker::keys::generate();
        let mut stack = Stack {
            nats,
            mongo,
            options,
            private_key,
            public_key,
            edge_addr: ([127, 0, 0, 1], 0).into(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("building an HTTP client"),
            edge: None,
            more_edges: Vec::new(),
            auth: Vec::new(),
            submission: Vec::new(),
        };
        let admin = stack.nats.client("admin").await;
        let provisioning = common::jobs::Provisioning {
            job_ack_wait: stack.options.job_ack_wait,
            replicas: stack.options.nats_nodes.min(3),
        };
        // A new cluster elects its JetStream meta leader first: retried as `provision` does.
        let js = async_nats::jetstream::new(admin);
        common::retry::retry_for("provisioning", Duration::from_secs(60), || {
            common::jobs::provision_with(&js, &provisioning)
        })
        .await
        .expect("provisioning the streams");
        for _ in 0..stack.options.auth_workers {
            stack.start_auth_worker().await;
        }
        stack.start_submission_worker().await;
        stack.wait_for_instances("auth", stack.options.auth_workers).await;
        stack.wait_for_instances("submission", 1).await;
        stack.start_edge().await;
        stack
    }

    pub fn auth_settings(&self) -> auth_worker::Settings {
        let o = &self.options;
        auth_worker::Settings {
            nats: self.nats.settings("auth"),
            mongodb_uri: self.mongo.uri.clone(),
            database: self.mongo.database.clone(),
            private_key_pem: self.private_key.clone(),
            access_ttl: o.access_ttl,
            refresh_ttl: Duration::from_secs(3600),
            bcrypt_cost: o.bcrypt_cost,
            login_max_failures: o.login_max_failures,
            login_lockout: o.login_lockout,
            login_failure_window: Duration::from_secs(900),
            max_in_flight: 64,
            admin: o.admin.clone(),
            metrics_addr: None,
        }
    }

    pub fn edge_settings(&self) -> edge::Settings {
        edge::Settings {
            addr: ([127, 0, 0, 1], 0).into(),
            nats: NatsSettings {
                request_timeout: self.options.edge_nats_timeout,
                ..self.nats.settings("edge")
            },
            public_key_pem: self.public_key.clone(),
            cors_origins: self.options.cors_origins.clone(),
            body_limit: self.options.body_limit,
            request_timeout: (self.options.edge_nats_timeout + Duration::from_secs(5))
                .max(Duration::from_secs(10)),
            ready_services: vec!["auth".to_owned(), "submission".to_owned()],
        }
    }

    pub async fn start_auth_worker(&mut self) {
        let settings = self.auth_settings();
        self.auth.push(Running::spawn(move |shutdown| {
            auth_worker::run(settings, shutdown)
        }));
    }

    pub fn submission_settings(&self) -> submission_worker::Settings {
        submission_worker::Settings {
            nats: self.nats.settings("submission"),
            mongodb_uri: self.mongo.uri.clone(),
            database: self.mongo.database.clone(),
            max_in_flight: 64,
            limits: submission_worker::limits::Limits {
                max_queued: self.options.max_queued,
                per_minute: self.options.per_minute,
                runs_per_minute: self.options.runs_per_minute,
            },
            // Only the first submission worker serves the process's metrics (one recorder a
            // process; it sees the in-process auth worker's too).
            metrics_addr: self
                .submission
                .is_empty()
                .then_some(self.options.metrics_addr)
                .flatten(),
        }
    }

    pub async fn start_submission_worker(&mut self) {
        let settings = self.submission_settings();
        self.submission.push(Running::spawn(move |shutdown| {
            submission_worker::run(settings, shutdown)
        }));
    }

    /// Stops every auth worker gracefully.
    pub async fn stop_auth_workers(&mut self) {
        for worker in self.auth.drain(..) {
            worker.stop().await;
        }
    }

    pub async fn start_edge(&mut self) {
        let edge = edge::Edge::bind(self.edge_settings())
            .await
            .expect("binding the edge");
        self.edge_addr = edge.local_addr();
        self.edge = Some(Running::spawn(move |shutdown| edge.run(shutdown)));
        self.wait_until_ready().await;
    }

    /// Waits until `/readyz` says 200 (the edge is connected and the services answer).
    pub async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.http.get(self.url("/readyz")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "the edge never became ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts one more edge, connected through NATS node `node` first; returns its address.
    pub async fn start_edge_via(&mut self, node: usize) -> std::net::SocketAddr {
        let settings = edge::Settings {
            nats: NatsSettings {
                request_timeout: self.options.edge_nats_timeout,
                ..self.nats.settings_via("edge", node)
            },
            ..self.edge_settings()
        };
        let edge = edge::Edge::bind(settings).await.expect("binding the edge");
        let addr = edge.local_addr();
        self.more_edges
            .push(Running::spawn(move |shutdown| edge.run(shutdown)));
        addr
    }

    /// Stops the edge gracefully (as SIGTERM would).
    pub async fn stop_edge(&mut self) {
        if let Some(edge) = self.edge.take() {
            edge.stop().await;
        }
    }

    /// Begins a graceful edge stop without waiting for it.
    pub fn begin_edge_stop(&mut self) -> Option<JoinHandle<()>> {
        let edge = self.edge.take()?;
        Some(tokio::spawn(edge.stop()))
    }

    /// Waits until `n` instances of `service` answer a service-API ping.
    pub async fn wait_for_instances(&self, service: &str, n: usize) {
        let client = self.nats.client("admin").await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = ping_instances(&client, service).await;
            if found >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "only {found} of {n} {service} instances came up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to a minute) until a judge offers `language` at `GET /api/languages`.
    pub async fn wait_for_language(&self, language: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let langs: Value = self.get_json("/api/languages").await;
            if langs["items"]
                .as_array()
                .is_some_and(|i| i.iter().any(|l| l["id"] == language))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no judge offered {language} within a minute"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.edge_addr, path)
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("sending a request")
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("sending a request")
    }

    /// An anonymous `GET` of `path`, read as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("sending a request")
            .json()
            .await
            .expect("a JSON body")
    }

    /// `POST /api/submissions` as the holder of `token`, with an `Idempotency-Key` if given.
    pub async fn submit(
        &self,
        token: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.url("/api/submissions"))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.expect("sending a request")
    }

    /// The verification report of `version` of `problem` once it is settled (no longer `running`),
    /// read as `token` (an admin) every 200 ms for at most `within`; panics with the last report
    /// if it does not settle.
    pub async fn verification(&self, token: &str, problem: &str, version: u64, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let r = self
                .get_auth(&format!("/api/problems/{problem}/versions/{version}"), token)
                .await;
            assert_eq!(
                r.status(),
                200,
                "reading the verification of {problem} v{version}"
            );
            let report: Value = r.json().await.expect("a JSON body");
            if report["verification"] != "running" {
                return report;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{problem} v{version} still verifying after {within:?}: {report:#}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Uploads the example problem package `examples/problems/<name>` as problem `name`, without
    /// verifying it, with the admin `token`, and checks it worked.
    pub async fn upload_example(&self, token: &str, name: &str) {
        let dir = crate::workspace_root().join("examples/problems").join(name);
        let r = self
            .http
            .post(self.url(&format!("/api/problems?id={name}&verify=false")))
            .bearer_auth(token)
            .header("content-type", "application/zip")
            .body(problem_package::pack_zip(&dir).expect("packing the example"))
            .send()
            .await
            .expect("uploading the example");
        assert_eq!(r.status(), 201, "uploading {name}");
    }

    /// Registers a user and checks it worked.
    pub async fn register(&self, username: &str, password: &str) -> Value {
        let body =
            json!({"username": username, "email": format!("{username}@example.org"), "password": password});
        let r = self.post("/api/auth/register", &body).await;
        let status = r.status();
        let body: Value = r.json().await.expect("a JSON body");
        assert_eq!(status, 201, "register {username}: {body}");
        body
    }

    /// Logs in and returns the access token.
    pub async fn token(&self, username: &str, password: &str) -> String {
        self.login(username, password).await["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Logs in and returns the token pair.
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let r = self
            .post(
                "/api/auth/login",
                &json!({"username": username, "password": password}),
            )
            .await;
        let status = r.status();
        let body: Value = r.json().await.expect("a JSON body");
        assert_eq!(status, 200, "login {username}: {body}");
        body
    }
}

/// A stand-in judge for tests that need languages offered but no grading: it joins NATS as the
/// `judge` service (with the judge's credentials) and advertises `languages`; it never pulls jobs,
/// so submissions stay queued. Dropping it leaves NATS.
pub async fn advertise_languages(nats: &NatsServer, languages: &[&str]) -> async_nats::service::Service {
    use async_nats::service::ServiceExt;
    let list: Vec<Value> = languages
        .iter()
        .map(|id| json!({"id": id, "name": id, "version": "test 1.0"}))
        .collect();
    let client = nats.client("judge").await;
    client
        .service_builder()
        .metadata(std::collections::HashMap::from([(
            "languages".to_owned(),
            Value::Array(list).to_string(),
        )]))
        .start("judge", "0.0.0")
        .await
        .expect("starting the stand-in judge")
}

/// How many instances of `service` answer one `$SRV.PING.<service>` within 300 ms.
pub async fn ping_instances(client: &async_nats::Client, service: &str) -> usize {
    let inbox = client.new_inbox();
    let Ok(mut sub) = client.subscribe(inbox.clone()).await else {
        return 0;
    };
    if client
        .publish_with_reply(common::subjects::service_ping(service), inbox, "".into())
        .await
        .is_err()
    {
        return 0;
    }
    let mut ids = std::collections::HashSet::new();
    let deadline = tokio::time::sleep(Duration::from_millis(300));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            m = sub.next() => match m {
                Some(m) => {
                    if let Ok(v) = serde_json::from_slice::<Value>(&m.payload) {
                        ids.insert(v["id"].as_str().unwrap_or_default().to_owned());
                    }
                }
                None => break,
            }
        }
    }
    ids.len()
}

impl Drop for Stack {
    fn drop(&mut self) {
        for r in self
            .auth
            .drain(..)
            .chain(self.submission.drain(..))
            .chain(self.edge.take())
        {
            r.task.abort();
        }
    }
}

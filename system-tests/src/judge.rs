//! A real `judge-worker serve` process for the tests and benchmarks that grade through NATS.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::NatsServer;

/// The judge's process and its package cache; killed and removed when dropped.
pub struct JudgeProcess {
    child: Child,
    _cache: tempfile::TempDir,
}

impl JudgeProcess {
    /// Starts `binary serve` as the `judge` user of `nats`, with a package cache of its own.
    /// `uid_base` gives its sandboxes uids apart from other judges running at the same time;
    /// its log goes to the test's stderr unless `quiet`.
    pub fn start(binary: &Path, nats: &NatsServer, uid_base: Option<&str>, quiet: bool) -> JudgeProcess {
        let settings = nats.settings("judge");
        let cache = tempfile::tempdir().expect("creating the judge's cache");
        let mut cmd = Command::new(binary);
        if let Some(base) = uid_base {
            cmd.args(["--uid-base", base]);
        }
        cmd.arg("serve")
            .env("NATS_URL", &settings.url)
            .env("NATS_USER", "judge")
            .env("NATS_PASSWORD", settings.password.as_deref().unwrap_or_default())
            .env("JUDGE_CACHE_DIR", cache.path())
            .stdout(Stdio::null())
            .stderr(if quiet { Stdio::null() } else { Stdio::inherit() });
        crate::die_with_parent(&mut cmd);
        JudgeProcess {
            child: cmd.spawn().expect("starting judge-worker serve"),
            _cache: cache,
        }
    }

    /// Kills it with SIGKILL, as a crash would, and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// How it ended, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("checking on judge-worker")
    }

    /// Sends SIGTERM and waits for it to exit, panicking after `within`.
    pub async fn terminate(&mut self, within: Duration) -> ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(Instant::now() < deadline, "judge-worker did not stop on SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for JudgeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

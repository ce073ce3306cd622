//! A real `judge-worker serve` process for the tests and benchmarks that grade through NATS.
//!
//! The judge is started from its binary, as in production. Cargo gives a test the path of its own
//! package's binaries only, so [`binary`] builds `judge-worker` (a no-op when it is up to date)
//! with the profile the test itself was built with and returns its path.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::NatsServer;

/// Whether `test` may start a judge: `true` when this machine can sandbox; otherwise the test
/// fails with the reason, or — only when the run opted out with `ALLOW_NO_SANDBOX=1` — is
/// skipped loudly and counted (see `sandbox::probe::tests_may_run`).
pub fn sandbox_available(test: &str) -> bool {
    sandbox::probe::tests_may_run(test)
}

/// The `judge-worker` binary of this workspace, built for the running test's profile.
///
/// Building from here rather than trusting whatever file is in `target/` means a test never runs
/// a judge older than the source. Panics with cargo's own output when the build fails.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // target/<profile>/deps/<test binary> → target/<profile>
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("a test binary lives in target/<profile>/deps")
            .to_owned();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "judge-worker", "--bin", "judge-worker"])
            .current_dir(crate::workspace_root());
        // A release build for the benchmarks goes to a target directory of its own: built for
        // judge-worker alone, its dependencies resolve other features than the benchmarks' build
        // of the same crates, and in one directory each build undid the other (every `cargo
        // bench` recompiled ring and all above it, about 6 minutes, then this build did again).
        let mut target_dir = profile_dir.parent().map(Path::to_path_buf);
        if release {
            cmd.arg("--release");
            target_dir = target_dir.map(|t| t.join("judge-bin"));
        }
        if let Some(dir) = &target_dir {
            cmd.env("CARGO_TARGET_DIR", dir);
        }
        let status = cmd.status().expect("running cargo to build judge-worker");
        assert!(status.success(), "building judge-worker failed ({status})");
        let path = match &target_dir {
            Some(dir) if release => dir.join("release").join("judge-worker"),
            _ => profile_dir.join("judge-worker"),
        };
        assert!(path.is_file(), "{} missing after the build", path.display());
        path
    })
}

/// The judge's process and its package cache; killed and removed when dropped.
pub struct JudgeProcess {
    child: Child,
    _cache: tempfile::TempDir,
}

impl JudgeProcess {
    /// Starts `judge-worker serve` as the `judge` user of `nats`, with a package cache of its own.
    /// `uid_base` gives its sandboxes uids apart from other judges running at the same time;
    /// its log goes to the test's stderr unless `quiet`.
    pub fn start(nats: &NatsServer, uid_base: Option<&str>, quiet: bool) -> JudgeProcess {
        Self::start_with_env(nats, uid_base, quiet, &[])
    }

    /// [`JudgeProcess::start`] with more environment variables (e.g. `METRICS_ADDR`).
    pub fn start_with_env(
        nats: &NatsServer,
        uid_base: Option<&str>,
        quiet: bool,
        env: &[(&str, &str)],
    ) -> JudgeProcess {
        let settings = nats.settings("judge");
        let cache = tempfile::tempdir().expect("creating the judge's cache");
        let mut cmd = Command::new(binary());
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
        cmd.envs(env.iter().copied());
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

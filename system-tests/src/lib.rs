//! The test harness: starts a real nats-server (the project's `nats.conf`, a free port, a
//! temporary store) and a real MongoDB-wire server (`MONGODB_URI` if set, else `nx-27017` from the
//! project's virtualenv on a free port), then the services in-process against them, and an edge
//! on a free port, and the real `judge-worker` binary as a process ([`judge`]). Everything
//! started is stopped and removed on drop — also when a test fails.
//!
//! Every test and benchmark that crosses a service boundary lives in this crate's `tests/` and
//! `benches/`. It may depend on every other crate; no crate may depend on it (`make deps-check`).
//! It never mocks NATS, MongoDB or the sandbox: where the real thing cannot run, a test fails and
//! says why (or, with `ALLOW_NO_SANDBOX=1`, is skipped loudly and counted).

pub mod bench;
pub mod judge;
pub mod mongo;
pub mod nats;
pub mod results;
pub mod stack;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use mongo::MongoServer;
pub use nats::NatsServer;
pub use stack::{Stack, StackOptions};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("system-tests lives in the workspace")
        .to_path_buf()
}

/// A port nobody listens on right now, below the kernel's range for outgoing connections.
///
/// Port 0 would hand out a port from that range (`ip_local_port_range`, 32768–60999 by default),
/// where any connection opened between the pick and the server's bind can take it — a cluster's
/// own route connections did, once in a few runs. Below the range only another test's pick can
/// collide; a random start per call makes that rare, and [`NatsServer`] retries on a collision.
pub fn free_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    if low > 12_000 {
        let (first, span) = (10_000u16, low - 10_000);
        let start = uuid::Uuid::new_v4().as_u128() as u16 % span;
        for i in 0..span {
            let port = first + (start + i) % span;
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding port 0 on loopback")
        .port()
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// Makes a child process die with the test process, even if the test is killed.
pub fn die_with_parent(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec here.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Installs a test log subscriber once (`RUST_LOG`, default `warn`).
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Asserts that `value` is an RFC 3339 date in UTC, as every date in the API must be (not, say,
/// MongoDB's extended JSON `{"$date": …}`). Returns it.
#[track_caller]
pub fn assert_rfc3339_utc(value: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a date must be an RFC 3339 string, not {value}"));
    let parsed = chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"));
    assert_eq!(parsed.offset().local_minus_utc(), 0, "{text:?} is not in UTC");
    parsed.to_utc()
}

/// Every example submission of problem `name` with the one verdict it must get: those the
/// package carries (`examples/problems/<name>/submissions/<folder>/`, whose folders the format
/// names; only single-verdict folders are used) and those filed by verdict
/// (`examples/submissions/<name>/<verdict>/`).
pub fn example_submissions(name: &str) -> Vec<(PathBuf, &'static str)> {
    let examples = workspace_root().join("examples");
    let mut out = Vec::new();
    let mut take = |dir: PathBuf, verdict: &'static str| {
        for file in std::fs::read_dir(&dir).expect("an example folder").flatten() {
            out.push((file.path(), verdict));
        }
    };
    let own = examples.join("problems").join(name).join("submissions");
    for entry in std::fs::read_dir(&own).expect("submissions/").flatten() {
        let folder = entry.file_name().to_string_lossy().into_owned();
        match problem_package::submissions::expected_verdicts(&folder) {
            Some([verdict]) => take(entry.path(), verdict),
            _ => panic!(
                "{}: not a single-verdict folder of the format",
                entry.path().display()
            ),
        }
    }
    for entry in std::fs::read_dir(examples.join("submissions").join(name))
        .into_iter()
        .flatten()
        .flatten()
    {
        let verdict = match entry.file_name().to_string_lossy().as_ref() {
            "compilation_error" => "compilation_error",
            "memory_limit_exceeded" => "memory_limit_exceeded",
            "output_limit_exceeded" => "output_limit_exceeded",
            other => panic!("examples/submissions/{name}/{other}: not a verdict of its own"),
        };
        take(entry.path(), verdict);
    }
    out.sort();
    out
}

//! Can this machine run the sandbox at all? And what test suites do when it cannot.
//!
//! The sandbox needs root (to create namespaces and cgroups and to switch to the slots' uids),
//! mount, network, IPC, UTS and PID namespaces, and — for the limits to mean what the module
//! documentation says — usable cgroups. [`probe`] checks all three and says which is missing.
//!
//! A test that needs the sandbox must not pass by returning early when there is none: that would
//! make a machine without a sandbox look green. [`tests_may_run`] fails the test instead, unless
//! the run says on purpose that it has no sandbox ([`NO_SANDBOX_VAR`]); then the test is skipped,
//! loudly, and recorded in [`SKIP_LOG_VAR`]'s file so the run can print how many were skipped.

use std::io::Write;

use crate::Cgroups;

/// Set to `1` to skip (not fail) the tests that need a sandbox on a machine that has none.
/// `make test` never sets it.
pub const NO_SANDBOX_VAR: &str = "ALLOW_NO_SANDBOX";
/// A file each skipped test appends its name and the reason to (`make test` prints the count).
pub const SKIP_LOG_VAR: &str = "SANDBOX_SKIP_LOG";

/// `Ok` when this machine can run the sandbox with cgroup limits; otherwise what is missing.
pub fn probe() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("the sandbox needs root (namespaces, cgroups, setuid)".into());
    }
    if let Cgroups::Unavailable(reason) = Cgroups::detect() {
        return Err(format!("no usable cgroups: {reason}"));
    }
    let namespaces = std::process::Command::new("unshare")
        .args(["--mount", "--net", "--ipc", "--uts", "--pid", "--fork", "true"])
        .status();
    if !namespaces.as_ref().is_ok_and(|s| s.success()) {
        return Err(format!(
            "cannot create mount, net, ipc, uts and pid namespaces here ({namespaces:?})"
        ));
    }
    Ok(())
}

/// For test suites: `true` when the sandbox can be made. When it cannot, panics (failing the
/// test) with the reason, unless [`NO_SANDBOX_VAR`] is `1`: then it says loudly that `test` is
/// skipped, records it, and returns `false`.
pub fn tests_may_run(test: &str) -> bool {
    let Err(why) = probe() else {
        return true;
    };
    if std::env::var(NO_SANDBOX_VAR).as_deref() != Ok("1") {
        panic!(
            "{test} needs the sandbox, which cannot be made on this machine: {why}\n\
             (set {NO_SANDBOX_VAR}=1 to skip such tests on purpose)"
        );
    }
    eprintln!("!!! SKIPPED {test}: {why}");
    if let Some(path) = std::env::var_os(SKIP_LOG_VAR) {
        let line = format!("{test}: {why}\n");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }
    false
}

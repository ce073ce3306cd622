//! Sandbox slots shared between threads: each job borrows one, uses it, gives it back.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Condvar, Mutex};

use super::{Cgroups, Sandbox, SandboxConfig, SandboxError};

/// A fixed set of slots lent to one job at a time; usable from several threads.
pub struct SandboxPool {
    slots: Mutex<Vec<Sandbox>>,
    available: Condvar,
    size: usize,
    _state_dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for SandboxPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxPool").field("size", &self.size).finish()
    }
}

impl SandboxPool {
    /// Prepares `size` slots. Warns once when cgroups cannot be used.
    pub fn new(config: &SandboxConfig, size: usize) -> Result<SandboxPool, SandboxError> {
        let cgroups = if config.disable_cgroups {
            Cgroups::Unavailable("disabled by configuration".into())
        } else {
            Cgroups::detect()
        };
        if let Cgroups::Unavailable(reason) = &cgroups {
            tracing::warn!(
                %reason,
                "no usable cgroups: memory is limited by RLIMIT_AS per process (address space, not \
                 resident memory), processes by RLIMIT_NPROC; CPU time and memory are measured for \
                 the main process only and its children escape the CPU limit"
            );
        }
        cgroups.sweep_stale();
        let slots = (0..size.max(1))
            .map(|i| Sandbox::new(&cgroups, config, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SandboxPool {
            slots: Mutex::new(slots),
            available: Condvar::new(),
            size: size.max(1),
            _state_dir: None,
        })
    }

    /// Like [`new`](Self::new), with the state directory a temporary directory removed on drop.
    pub fn with_temp_state(mut config: SandboxConfig, size: usize) -> Result<SandboxPool, SandboxError> {
        sweep_stale_state_dirs();
        let dir = tempfile::Builder::new()
            .prefix(&format!("judge-worker-{}-", std::process::id()))
            .tempdir()?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        config.state_dir = dir.path().to_owned();
        let mut pool = SandboxPool::new(&config, size)?;
        pool._state_dir = Some(dir);
        Ok(pool)
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Borrows a slot, waiting for one to be free. It returns to the pool when the guard drops.
    pub fn lend(&self) -> SlotGuard<'_> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(s) = slots.pop() {
                return SlotGuard {
                    pool: self,
                    sandbox: Some(s),
                };
            }
            slots = self.available.wait(slots).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Drop for SandboxPool {
    fn drop(&mut self) {
        // Slots before the state directory.
        self.slots.get_mut().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Removes temporary state directories of judges that died without cleaning up (SIGKILL). They
/// hold no mounts (those lived in the dead zygotes' mount namespaces), only files.
fn sweep_stale_state_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix("judge-worker-")
            .and_then(|r| r.split('-').next())
        else {
            continue;
        };
        if owner.parse::<u32>().is_ok() && !Path::new("/proc").join(owner).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// A slot on loan from a [`SandboxPool`].
pub struct SlotGuard<'a> {
    pool: &'a SandboxPool,
    sandbox: Option<Sandbox>,
}

impl std::ops::Deref for SlotGuard<'_> {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        self.sandbox.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for SlotGuard<'_> {
    fn deref_mut(&mut self) -> &mut Sandbox {
        self.sandbox.as_mut().expect("present until drop")
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.sandbox.take() {
            self.pool.slots.lock().unwrap_or_else(|p| p.into_inner()).push(s);
            self.pool.available.notify_one();
        }
    }
}

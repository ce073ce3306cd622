//! The root a slot's zygote builds for itself, once, inside its fresh mount namespace: a small
//! tmpfs holding read-only bind mounts of exactly what the toolchains need (host paths at the same
//! place), `/dev/{null,zero,random,urandom}`, a `/proc` of the new PID namespace with `hidepid=2`,
//! `/etc/passwd` and `/etc/group` naming the sandbox user, the writable `/box` and `/tmp` and the
//! read-only `/prog` and `/checker`. Then `pivot_root` into it, detach the old root, make the
//! tmpfs read-only, and name the host `sandbox`.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::pivot_root;

use super::zygote::ZygoteConfig;

/// Joins the slot's cgroup and builds and enters the root. Runs in the zygote, before it serves.
pub(crate) fn build(cfg: &ZygoteConfig) -> Result<(), String> {
    for procs in &cfg.cgroup_procs {
        fs::write(procs, "0").map_err(|e| format!("join cgroup {}: {e}", procs.display()))?;
    }
    // The cgroup's cpuset already holds the runs to the slot's CPU where there is one; the
    // affinity does it where there is none (rlimits only), and every run inherits it.
    if let Some(cpu) = cfg.cpu {
        let mut set = nix::sched::CpuSet::new();
        set.set(cpu).map_err(|e| format!("cpu {cpu}: {e}"))?;
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
            .map_err(|e| format!("pin to cpu {cpu}: {e}"))?;
    }
    // The OOM killer must pick the run, never the zygote that shares its cgroup: lowering our own
    // score needs CAP_SYS_RESOURCE, which containers often drop, so runs raise theirs instead.
    let _ = fs::write("/proc/self/oom_score_adj", "-1000");
    // The IPC namespace lives as long as the slot: a System V segment, semaphore set or queue left
    // by one run would survive into the next (and hold its memory). These limits are per IPC
    // namespace, so zero here means no run can create any; POSIX message queues are already
    // refused by RLIMIT_MSGQUEUE = 0 and there is no /dev/shm.
    for (name, value) in [("shmmni", "0"), ("msgmni", "0"), ("sem", "0 0 0 0")] {
        let path = Path::new("/proc/sys/kernel").join(name);
        fs::write(&path, value).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let m = |src: Option<&Path>, dst: &Path, fstype: Option<&str>, flags: MsFlags, data: Option<&str>| {
        mount(src, dst, fstype, flags, data).map_err(|e| format!("mount {:?} on {}: {e}", src, dst.display()))
    };
    m(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    let root = &cfg.root;
    m(
        Some(Path::new("tmpfs")),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("size=4m,mode=0755"),
    )?;
    let inside = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
    let bind = |src: &Path, dst: &Path, writable: bool, dev: bool| -> Result<(), String> {
        m(Some(src), dst, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
        let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID;
        if !writable {
            flags |= MsFlags::MS_RDONLY;
        }
        if !dev {
            flags |= MsFlags::MS_NODEV;
        }
        m(None, dst, None, flags, None)
    };
    let mkdirs = |p: &Path| fs::create_dir_all(p).map_err(|e| format!("mkdir {}: {e}", p.display()));
    for b in &cfg.binds {
        let Ok(meta) = fs::symlink_metadata(&b.source) else {
            continue;
        };
        let target = inside(&b.source);
        if let Some(parent) = target.parent() {
            mkdirs(parent)?;
        }
        if meta.file_type().is_symlink() {
            // Merged-/usr links such as /lib -> usr/lib: recreate the link, bind nothing.
            let to = fs::read_link(&b.source).map_err(|e| e.to_string())?;
            if fs::symlink_metadata(&target).is_err() {
                symlink(&to, &target).map_err(|e| format!("symlink {}: {e}", target.display()))?;
            }
            continue;
        }
        if meta.is_dir() {
            mkdirs(&target)?;
        } else {
            fs::write(&target, b"").map_err(|e| format!("create {}: {e}", target.display()))?;
        }
        bind(&b.source, &target, b.writable, false)?;
    }
    let dev = root.join("dev");
    mkdirs(&dev)?;
    for name in ["null", "zero", "random", "urandom"] {
        let target = dev.join(name);
        fs::write(&target, b"").map_err(|e| format!("create {}: {e}", target.display()))?;
        bind(&Path::new("/dev").join(name), &target, true, true)?;
    }
    for (name, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        symlink(to, dev.join(name)).map_err(|e| format!("symlink /dev/{name}: {e}"))?;
    }
    // /box and /tmp are tmpfs of our own, not host directories: what a run writes there is
    // bounded (by their size, and by the run's memory limit, since tmpfs pages are charged to the
    // writer's cgroup) and can never fill the host's disk. The judge reaches them through
    // /proc/<zygote>/root.
    for (dir, mode) in [("box", "0755"), ("tmp", "1777")] {
        let target = root.join(dir);
        mkdirs(&target)?;
        let options = format!(
            "size={},nr_inodes=16384,mode={mode},uid={},gid={}",
            cfg.scratch_size, cfg.uid, cfg.gid
        );
        m(
            Some(Path::new("tmpfs")),
            &target,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(&options),
        )?;
    }
    for (dir, host) in [("prog", &cfg.prog_dir), ("checker", &cfg.checker_dir)] {
        let target = root.join(dir);
        mkdirs(&target)?;
        bind(host, &target, false, false)?;
    }
    let etc = root.join("etc");
    mkdirs(&etc)?;
    let passwd = format!(
        "root:x:0:0:root:/:/bin/false\nsandbox:x:{}:{}:sandbox:/box:/bin/false\n",
        cfg.uid, cfg.gid
    );
    let group = format!("root:x:0:\nsandbox:x:{}:\n", cfg.gid);
    fs::write(etc.join("passwd"), passwd).map_err(|e| format!("write passwd: {e}"))?;
    fs::write(etc.join("group"), group).map_err(|e| format!("write group: {e}"))?;
    let proc_dir = root.join("proc");
    mkdirs(&proc_dir)?;
    m(
        Some(Path::new("proc")),
        &proc_dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("hidepid=2"),
    )?;
    fs::set_permissions(root, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    std::env::set_current_dir(root).map_err(|e| format!("chdir root: {e}"))?;
    pivot_root(".", ".").map_err(|e| format!("pivot_root: {e}"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| format!("detach old root: {e}"))?;
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))?;
    m(
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None,
    )?;
    nix::unistd::sethostname("sandbox").map_err(|e| format!("sethostname: {e}"))?;
    Ok(())
}

//! How steady a CPU-bound program's time is while the other slot is busy: one slot runs the same
//! program 20 times, the other spins without pause; reported as max / min of the CPU and wall
//! times, with the slots pinned to a CPU each and, beside it in the same run, not pinned; and,
//! to tell the neighbour's share from the machine's own jitter, pinned with the other slot idle,
//! and the floor: the same program run bare (no sandbox) on one CPU with nothing beside it.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::Command as HostCommand;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sandbox::{default_binds, Command, Limits, SandboxConfig, SandboxPool, Sink, Stdio};

const RUNS: usize = 20;

/// About 0.3 s of pure computation, the same every time.
const WORK: &str = r#"#include <stdio.h>
int main(void) { volatile unsigned long x = 0; for (unsigned long i = 0; i < 300000000UL; i++) x += i ^ (x >> 3);
  printf("%lu\n", x); return 0; }"#;
const SPIN: &str = "int main(void) { volatile unsigned long x = 0; for (;;) x++; }";

/// One row of the table.
#[derive(Clone, Copy)]
enum Arm {
    /// Slots pinned to a CPU each, the other slot spinning.
    Pinned,
    /// Slots not pinned, the other slot spinning.
    NotPinned,
    /// Slots pinned, the other slot idle.
    PinnedIdle,
    /// The program outside any sandbox, pinned, nothing beside it.
    Bare,
}

/// Compiles C `text`, written to `source`, into `exe`.
fn compile(text: &str, source: &Path, exe: &Path) {
    std::fs::write(source, text).expect("write source");
    let ok = HostCommand::new("gcc")
        .args(["-O1", "-o"])
        .arg(exe)
        .arg(source)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "gcc failed");
}

pub fn spread(helper: &Path) {
    let cpus = sandbox::allowed_cpus();
    println!("### Timing spread: a CPU-bound program ({RUNS} runs) while the other slot spins\n");
    if cpus.len() < 2 {
        println!("One CPU here: no second slot to be busy; skipped.\n");
        return;
    }
    println!("| slots | CPU time min / max | spread (max / min) | wall time min / max | spread |");
    println!("|---|---|---|---|---|");
    for arm in [Arm::Pinned, Arm::NotPinned, Arm::PinnedIdle, Arm::Bare] {
        let (cpu, wall) = match arm {
            Arm::Pinned => measure(helper, cpus[..2].to_vec(), true),
            Arm::NotPinned => measure(helper, Vec::new(), true),
            Arm::PinnedIdle => measure(helper, cpus[..2].to_vec(), false),
            Arm::Bare => bare(cpus[0]),
        };
        let row = |v: &[Duration]| {
            let min = v.iter().min().copied().unwrap_or_default();
            let max = v.iter().max().copied().unwrap_or_default();
            (
                format!("{:.1} / {:.1} ms", ms(min), ms(max)),
                ms(max) / ms(min).max(f64::MIN_POSITIVE),
            )
        };
        let (c, cs) = row(&cpu);
        let (w, ws) = row(&wall);
        let label = match arm {
            Arm::Pinned => format!("pinned (CPUs {} and {})", cpus[0], cpus[1]),
            Arm::NotPinned => "not pinned".to_owned(),
            Arm::PinnedIdle => "pinned, the other slot idle".to_owned(),
            Arm::Bare => format!("bare: no sandbox, on CPU {} alone (the floor)", cpus[0]),
        };
        println!("| {label} | {c} | **{cs:.3}** | {w} | {ws:.3} |");
    }
    println!(
        "\nTarget: spread ≤ 1.05 with the slots pinned and the other slot busy. On this 2-core \
         machine the judge's own threads have no spare CPU and share the two with the slots.\n"
    );
}

fn measure(helper: &Path, cpus: Vec<usize>, neighbour: bool) -> (Vec<Duration>, Vec<Duration>) {
    let pool = SandboxPool::with_temp_state(
        SandboxConfig {
            helper: helper.to_owned(),
            state_dir: Default::default(),
            binds: default_binds(),
            uid_base: 65200,
            disable_cgroups: false,
            scratch_size: 16 << 20,
            cpus,
        },
        2,
    )
    .expect("sandbox pool");
    let mut worker = pool.lend();
    let mut spinner = pool.lend();
    for (slot, name, src) in [(&worker, "work", WORK), (&spinner, "spin", SPIN)] {
        compile(
            src,
            &slot.io_dir().join(format!("{name}.c")),
            &slot.prog_dir().join(name),
        );
    }
    let null = File::options().write(true).open("/dev/null").expect("/dev/null");
    let stop = AtomicBool::new(false);
    let mut cpu = Vec::new();
    let mut wall = Vec::new();
    std::thread::scope(|s| {
        let stop = &stop;
        let null = &null;
        s.spawn(move || {
            let limits = Limits {
                cpu_time: Duration::from_secs(60),
                wall_time: Duration::from_secs(60),
                ..Limits::default()
            };
            while neighbour && !stop.load(Ordering::Relaxed) {
                let _ = spinner.run(
                    &cmd("/prog/spin"),
                    &Limits {
                        cpu_time: Duration::from_secs(2),
                        ..limits.clone()
                    },
                    Stdio {
                        stdin: None,
                        stdout: Sink::Fd(null.as_fd()),
                        stderr: Sink::Fd(null.as_fd()),
                    },
                );
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        let limits = Limits {
            cpu_time: Duration::from_secs(10),
            wall_time: Duration::from_secs(20),
            ..Limits::default()
        };
        for i in 0..RUNS + 2 {
            let r = worker
                .run(
                    &cmd("/prog/work"),
                    &limits,
                    Stdio {
                        stdin: None,
                        stdout: Sink::Fd(null.as_fd()),
                        stderr: Sink::Fd(null.as_fd()),
                    },
                )
                .expect("run");
            assert!(r.status.success(), "{r:?}");
            if i >= 2 {
                cpu.push(r.cpu_time);
                wall.push(r.wall_time);
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    (cpu, wall)
}

/// The program run bare on `cpu` (affinity set in the child before exec), its CPU time from
/// `wait4`'s resource usage: what the machine itself varies by, with no sandbox and no neighbour.
fn bare(cpu: usize) -> (Vec<Duration>, Vec<Duration>) {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = dir.path().join("work");
    compile(WORK, &dir.path().join("work.c"), &exe);
    let (mut cpu_times, mut walls) = (Vec::new(), Vec::new());
    for i in 0..RUNS + 2 {
        let started = std::time::Instant::now();
        let mut command = HostCommand::new(&exe);
        command.stdout(std::process::Stdio::null());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut set);
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // Reaped by `wait4` below, which also gives its resource usage (`Child::wait` does not).
        let pid = command.spawn().expect("spawn").id() as i32;
        let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
        // SAFETY: waits for our own child; `usage` is a valid out-parameter.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert!(waited > 0 && status == 0, "bare run failed");
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        if i >= 2 {
            cpu_times.push(tv(usage.ru_utime) + tv(usage.ru_stime));
            walls.push(started.elapsed());
        }
    }
    (cpu_times, walls)
}

fn cmd(path: &str) -> Command {
    Command {
        argv: vec![path.to_owned()],
        env: vec![],
        cwd: String::new(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#!/usr/bin/env bash
# Runs the sandbox's containment and limit tests inside a virtual machine whose kernel offers only
# the cgroup interface asked for: v2 (what every current distribution boots with; these machines
# mount v1) or v1 (to compare like with like). Software emulation (qemu TCG): no KVM needed.
#
#   scripts/cgroup-vm.sh                 the tests under cgroup v2 (what `make test` runs)
#   scripts/cgroup-vm.sh --cgroup v1     the same tests under cgroup v1
#   scripts/cgroup-vm.sh --bench         the per-test cost under v1 and under v2 (`make bench`)
#
# Everything the machine needs comes from Debian's packages (`apt-get download`, `dpkg-deb -x`),
# cached in target/cgroup-vm: the cloud kernel and its virtio modules, busybox for the initramfs
# and the shell, and the root the tests need (libc, gcc and g++ for the C and C++ programs they
# judge, python3). The test binaries are the ones cargo built on the host, put at the same paths
# (they name the judge binary and the examples by absolute path). The machine boots an initramfs
# that mounts the disk image and switch_roots into it (the sandbox's pivot_root does not work from
# an initramfs root); /init2 mounts cgroup2 (or the v1 hierarchies), runs the tests, and powers off.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/target/cgroup-vm
CGROUP=
MODE=test
TIMEOUT=${CGROUP_VM_TIMEOUT:-900}
while [ $# -gt 0 ]; do
  case "$1" in
    --cgroup) CGROUP=$2; shift 2 ;;
    --bench) MODE=bench; shift ;;
    *) echo "usage: $0 [--cgroup v1|v2] [--bench]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "cgroup-vm: needs root (the tests do)" >&2; exit 1; }

if [ "$MODE" = bench ] && [ -z "$CGROUP" ]; then
  # The same benchmark in the same emulated machine, once per cgroup interface, side by side.
  for v in v1 v2; do "$0" --bench --cgroup "$v" >/dev/null; done
  field() { grep -o "$2=[0-9.]*" "$WORK/console-$1-bench.log" | head -1 | cut -d= -f2; }
  echo "### One test on cgroup v2 beside v1 (\`scripts/cgroup-vm.sh --bench\`)"
  echo
  echo "The same machine both times: qemu TCG (software emulation, 2 vCPUs, so every figure is"
  echo "several times the host's), kernel $(grep -o 'VM: kernel [^,]*' "$WORK/console-v2-bench.log" | head -1 | cut -d' ' -f3), booted once with only the cgroup v1 hierarchies"
  echo "(memory, pids, cpuacct, cpuset) mounted and once with only cgroup2."
  echo
  echo "| | cgroup v1 | cgroup v2 | v2 / v1 |"
  echo "|---|---:|---:|---:|"
  for f in bare_run_ms sandbox_run_ms judged_test_ms; do
    a=$(field v1 $f) b=$(field v2 $f)
    case $f in
      bare_run_ms) label="bare fork + exec + wait (median)" ;;
      sandbox_run_ms) label="sandbox run of a trivial binary (median)" ;;
      judged_test_ms) label="one judged test of a C A+B (clean, run, check)" ;;
    esac
    echo "| $label | $a ms | $b ms | $(python3 -c "print(f'{$b / $a:.2f}')" 2>/dev/null || echo ?) |"
  done
  echo
  exit 0
fi
CGROUP=${CGROUP:-v2}

need() { command -v "$1" >/dev/null || { echo "cgroup-vm: $1 missing (scripts/setup.sh --test installs it)" >&2; exit 1; }; }
need qemu-system-x86_64
need mke2fs
need objcopy
need apt-get

# --- packages -------------------------------------------------------------------------------
# Disk space is scarce: the packages are extracted and dropped, only the kernel and the six
# modules the initramfs loads are kept, and the disk image lives only as long as the machine.
mkdir -p "$WORK"
KERNEL_PKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
[ -n "$KERNEL_PKG" ] || { echo "cgroup-vm: apt knows no linux-image-cloud-amd64 (apt-get update?)" >&2; exit 1; }
# The root: what the tests run, with everything it depends on; not what only installs packages.
ROOT_PKGS=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances gcc g++ cpp libc6-dev python3-minimal libpython3.11-stdlib 2>/dev/null \
  | grep -v '^ ' | grep -v '^<' | sort -u \
  | grep -vxE 'dpkg|install-info|tar|perl|perl-base|perl-modules-.*|libperl.*|mailcap|mime-support|media-types|debconf.*|readline-common')
STAMP="$KERNEL_PKG busybox-static $(echo $ROOT_PKGS)"
if [ "$(cat "$WORK/packages.stamp" 2>/dev/null)" != "$STAMP" ]; then
  echo "cgroup-vm: downloading the machine's packages (once)"
  rm -rf "$WORK/debs" "$WORK/kernel" "$WORK/base" && mkdir -p "$WORK/debs"
  # shellcheck disable=SC2086
  (cd "$WORK/debs" && apt-get download -q=2 "$KERNEL_PKG" busybox-static $ROOT_PKGS 2>&1 \
    | grep -v 'unsandboxed' || true)
  mkdir -p "$WORK/kernel/modules" "$WORK/base" "$WORK/debs/k"
  dpkg-deb -x "$WORK/debs/${KERNEL_PKG}"_*.deb "$WORK/debs/k"
  cp "$WORK"/debs/k/boot/vmlinuz-* "$WORK/kernel/vmlinuz"
  for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
    cp "$(find "$WORK/debs/k/lib/modules" -name "$m.ko")" "$WORK/kernel/modules/"
  done
  for deb in "$WORK"/debs/*.deb; do
    case "$(basename "$deb")" in linux-image-*) continue ;; esac
    dpkg-deb -x "$deb" "$WORK/base"
  done
  rm -rf "$WORK/debs" "$WORK"/base/usr/share/{doc,man,locale,info}
  echo "$STAMP" > "$WORK/packages.stamp"
fi
BUSYBOX=$WORK/base/bin/busybox
VMLINUZ=$WORK/kernel/vmlinuz

# --- initramfs: busybox, the virtio modules, an init that mounts the disk and switches to it ---
INITRD=$WORK/initrd.cpio
if [ ! -s "$INITRD" ] || [ "$0" -nt "$INITRD" ]; then
  rm -rf "$WORK/initramfs" && mkdir -p "$WORK/initramfs"/{bin,lib/modules,proc,sys,dev,newroot}
  cp "$BUSYBOX" "$WORK/initramfs/bin/busybox"
  for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
    cp "$WORK/kernel/modules/$m.ko" "$WORK/initramfs/lib/modules/"
  done
  cat > "$WORK/initramfs/init" <<'EOF'
#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc; $B mount -t sysfs sys /sys; $B mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
  $B insmod /lib/modules/$m.ko
done
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do $B sleep 0.1; i=$((i + 1)); done
$B mount -t ext4 /dev/vda /newroot || { echo "VM: cannot mount the disk"; $B poweroff -f; }
$B umount /proc /sys /dev
exec $B switch_root /newroot /init2
EOF
  chmod +x "$WORK/initramfs/init"
  (cd "$WORK/initramfs" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null > "$INITRD")
fi

# --- the disk: the base root, the test binaries at their host paths, /init2 -----------------
IMAGE_DIR=$WORK/image
rm -rf "$IMAGE_DIR" && cp -al "$WORK/base" "$IMAGE_DIR"
mkdir -p "$IMAGE_DIR"/{proc,sys,dev,tmp,root,etc}
# Binaries without their debug information (symbols stay, for backtraces): a tenth of the size.
put() { mkdir -p "$IMAGE_DIR$(dirname "$1")" && objcopy --strip-debug "$1" "$IMAGE_DIR$1"; }
echo "root:x:0:0:root:/root:/bin/sh" > "$IMAGE_DIR/etc/passwd"
echo "root:x:0:" > "$IMAGE_DIR/etc/group"

if [ "$MODE" = test ]; then
  echo "cgroup-vm: building the tests"
  mapfile -t BINS < <(cargo test -q --no-run --message-format=json -p judge-worker \
      --test hostile --test measure --test fidelity --test concurrency 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["target"]["name"], m["executable"])')
  cargo build -q -p judge-worker --bin judge-worker
  put "$ROOT/target/debug/judge-worker"
  : > "$IMAGE_DIR/tests.list"
  for entry in "${BINS[@]}"; do
    name=${entry%% *} bin=${entry#* }
    put "$bin"
    case "$name" in
      # The JVM tests stay on the host: a JVM compiling Kotlin under TCG takes minutes.
      fidelity) echo "$bin --test-threads=1 --skip java --skip kotlin --skip jvm" >> "$IMAGE_DIR/tests.list" ;;
      *) echo "$bin --test-threads=1" >> "$IMAGE_DIR/tests.list" ;;
    esac
  done
else
  echo "cgroup-vm: building the benchmark"
  BENCH=$(cargo bench -q --no-run --message-format=json -p judge-worker --bench sandbox 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["bench"]:
        print(m["executable"])')
  BIN=$(dirname "$(dirname "$BENCH")")/judge-worker
  cargo build -q --release -p judge-worker --bin judge-worker
  put "$BENCH"
  put "$BIN"
  echo "BENCH_ONLY=per-test $BENCH --bench" > "$IMAGE_DIR/tests.list"
fi

cat > "$IMAGE_DIR/init2" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin 2>/dev/null
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root TMPDIR=/tmp RUST_BACKTRACE=1
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
# The test binaries sit at their host paths: a checkout under /tmp (CI clones there) must not be
# hidden by a fresh /tmp, so then the disk's own /tmp (writable, 512 MiB to spare) serves.
if [ -z "\$(ls -A /tmp)" ]; then mount -t tmpfs -o mode=1777 tmp /tmp; else chmod 1777 /tmp; fi
ip link set lo up
if [ "$CGROUP" = v2 ]; then
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
else
  mount -t tmpfs cgroup /sys/fs/cgroup
  for c in memory pids cpuacct cpuset; do
    mkdir -p /sys/fs/cgroup/\$c && mount -t cgroup -o \$c cgroup /sys/fs/cgroup/\$c
  done
fi
echo "VM: kernel \$(uname -r), cgroup $CGROUP: \$(cut -d' ' -f3 /proc/mounts | grep cgroup | sort -u | tr '\n' ' ')"
[ -f /sys/fs/cgroup/cgroup.controllers ] && echo "VM: controllers \$(cat /sys/fs/cgroup/cgroup.controllers)"
cd /
rc=0
while read -r line; do
  echo "VM: running \$line"
  sh -c "\$line" </dev/null || rc=1
done < /tests.list
echo "VM-TESTS-EXIT \$rc"
sync
poweroff -f
EOF
chmod +x "$IMAGE_DIR/init2"

SIZE_MB=$(( $(du -sm "$IMAGE_DIR" | cut -f1) + 512 ))
rm -f "$WORK/disk.ext4"
trap 'rm -rf "$WORK/disk.ext4" "$IMAGE_DIR"' EXIT
mke2fs -q -t ext4 -d "$IMAGE_DIR" -F "$WORK/disk.ext4" "${SIZE_MB}M"
rm -rf "$IMAGE_DIR"

# --- boot -----------------------------------------------------------------------------------
echo "cgroup-vm: booting (cgroup $CGROUP, qemu TCG, 2 CPUs; at most ${TIMEOUT}s)"
LOG=$WORK/console-$CGROUP-$MODE.log
start=$(date +%s)
set +e
timeout --foreground "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -smp 2 -m 3072 \
  -nographic -no-reboot -monitor none -serial stdio \
  -kernel "$VMLINUZ" -initrd "$INITRD" \
  -append "console=ttyS0 quiet panic=-1 loglevel=3" \
  -drive "file=$WORK/disk.ext4,format=raw,if=virtio" </dev/null 2>&1 | tee "$LOG" \
  | grep --line-buffered -vE '^\s*$'
qemu_rc=${PIPESTATUS[0]}
set -e
echo "cgroup-vm: machine ran $(( $(date +%s) - start )) s"
if [ "$qemu_rc" -eq 124 ]; then
  echo "cgroup-vm: TIMED OUT after ${TIMEOUT}s (console: $LOG)" >&2; exit 1
fi
if grep -q '^VM-TESTS-EXIT 0' "$LOG"; then
  exit 0
fi
echo "cgroup-vm: tests FAILED under cgroup $CGROUP (console: $LOG)" >&2
exit 1

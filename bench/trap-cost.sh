#!/usr/bin/env bash
# Cost of a trapped syscall answered by sysbox-mgr vs the same call untrapped, and of an untrapped
# syscall in a system container vs a runc container; all in one run, ratios printed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
N=${N:-20000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -static -o "$out/syscall-loop" bench/src/syscall-loop.c
run() { # runtime policy syscall
    docker run --rm --pull=never --runtime="$1" -e SYSBOX_POLICY="$2" -v "$out:/bench:ro" "$BUSYBOX_IMAGE" /bench/syscall-loop "$3" "$N"
}
trapped=$(run sysbox-runc default sethostname)
untrapped=$(run sysbox-runc no-traps sethostname)
getpid_sys=$(run sysbox-runc default getpid)
# An emulated mount: decided on sysbox-mgr's copy of the arguments and carried out by its helper
# as the caller, against the same pair untrapped (policy no-traps).
read -r mount_emu umount_emu < <(N=${MOUNTS:-500} run sysbox-runc default tmpfs)
read -r mount_raw umount_raw < <(N=${MOUNTS:-500} run sysbox-runc no-traps tmpfs)
# openat2: trapped to let RESOLVE_NO_XDEV reach the virtual files. Relative to anything but /proc
# and /sys the manager answers CONTINUE from the registers; relative to /proc it opens the file as
# the caller, or (O_PATH) reads the call and gives it back to the kernel. Untrapped: policy no-traps (there NO_XDEV on /proc/meminfo fails with EXDEV, so the
# emulated one is compared with the plain untrapped openat2).
openat2_trapped=$(run sysbox-runc default openat2-etc)
openat2_raw=$(run sysbox-runc no-traps openat2-etc)
openat2_proc=$(N=${MOUNTS:-500} run sysbox-runc default openat2-proc)
openat2_path=$(run sysbox-runc default openat2-procpath)
openat2_path_raw=$(run sysbox-runc no-traps openat2-procpath)
getpid_runc=$(docker run --rm --pull=never --runtime=runc -v "$out:/bench:ro" "$BUSYBOX_IMAGE" /bench/syscall-loop getpid "$N")
printf 'sethostname trapped (sysbox-mgr CONTINUE): %8.1f ns/call\n' "$trapped"
printf 'sethostname untrapped (policy no-traps):   %8.1f ns/call\n' "$untrapped"
printf 'trap cost: %.1f us per call, %.1fx the untrapped call\n' "$(echo "($trapped - $untrapped) / 1000" | bc -l)" "$(echo "$trapped / $untrapped" | bc -l)"
printf 'getpid in a system container: %.1f ns, in a runc container: %.1f ns, ratio %.3f\n' \
    "$getpid_sys" "$getpid_runc" "$(echo "$getpid_sys / $getpid_runc" | bc -l)"
printf 'tmpfs mount emulated: %.1f us, untrapped: %.1f us, %.1fx\n' "$(echo "$mount_emu / 1000" | bc -l)" \
    "$(echo "$mount_raw / 1000" | bc -l)" "$(echo "$mount_emu / $mount_raw" | bc -l)"
printf 'openat2 of /etc/hostname trapped (CONTINUE): %.1f us, untrapped: %.1f us, %.1fx\n' "$(echo "$openat2_trapped / 1000" | bc -l)" \
    "$(echo "$openat2_raw / 1000" | bc -l)" "$(echo "$openat2_trapped / $openat2_raw" | bc -l)"
printf 'openat2 of /proc meminfo with RESOLVE_NO_XDEV, emulated: %.1f us (%.1fx the untrapped openat2)\n' \
    "$(echo "$openat2_proc / 1000" | bc -l)" "$(echo "$openat2_proc / $openat2_raw" | bc -l)"
printf 'openat2 O_PATH of /proc thread-self/comm, read and given back: %.1f us, untrapped: %.1f us, %.1fx\n' \
    "$(echo "$openat2_path / 1000" | bc -l)" "$(echo "$openat2_path_raw / 1000" | bc -l)" "$(echo "$openat2_path / $openat2_path_raw" | bc -l)"
printf 'tmpfs umount2 emulated: %.1f us, untrapped: %.1f us, %.1fx\n' "$(echo "$umount_emu / 1000" | bc -l)" \
    "$(echo "$umount_raw / 1000" | bc -l)" "$(echo "$umount_emu / $umount_raw" | bc -l)"

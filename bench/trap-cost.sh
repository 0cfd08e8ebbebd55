#!/usr/bin/env bash
# Cost of a trapped syscall answered by sysbox-mgr vs the same call untrapped, and of an untrapped
# syscall in a system container vs a runc container; all in one run, ratios printed. Also: the
# floor of a trapped call on this machine (a C listener deciding nothing), sysinfo, what
# `sysbox-mgr trace` running costs, trapped mounts of one container from 1 and 8 threads, and one
# container's trapped-call latency while another floods sysbox-mgr.
# TRAP_DATA=FILE: "call<TAB>trapped us<TAB>untrapped us" of each call, for bench/report.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
N=${N:-20000}
out=$(mktemp -d)
trap 'docker rm -f bench-flood >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
gcc -O2 -static -pthread -o "$out/syscall-loop" bench/src/syscall-loop.c
gcc -O2 -o "$out/notify-floor" bench/src/notify-floor.c
run() { # runtime policy mode [args, default N]
    local rt=$1 policy=$2 mode=$3
    shift 3
    docker run --rm --pull=never --runtime="$rt" -e SYSBOX_POLICY="$policy" -v "$out:/bench:ro" "$BUSYBOX_IMAGE" /bench/syscall-loop "$mode" "${@:-$N}"
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
sysinfo_trapped=$(run sysbox-runc default sysinfo)
sysinfo_raw=$(run sysbox-runc no-traps sysinfo)
# The floor: the same round trip in C with nothing to decide (blocking receive, sync wake-up).
floor=$("$out/notify-floor" 1 "$N" 1)
# sysbox-mgr trace running (its lines thrown away) against nobody tracing.
sysbox-mgr trace > /dev/null 2>&1 & tracer=$!
sleep 0.5
traced=$(run sysbox-runc default sethostname)
traced_sysinfo=$(run sysbox-runc default sysinfo)
read -r traced_p50 _ < <(run sysbox-runc default latency "${SAMPLES:-1000}")
kill "$tracer"; wait "$tracer" 2>/dev/null || true
untraced=$(run sysbox-runc default sethostname)
untraced_sysinfo=$(run sysbox-runc default sysinfo)
# Trapped mounts of one container from 1 and from 8 threads (pairs of mount+umount2 a second).
one_thread=$(run sysbox-runc default tmpfs-threads 1 "${PAIRS:-300}")
eight_threads=$(run sysbox-runc default tmpfs-threads 8 "$(( ${PAIRS:-300} / 4 ))")
# One container's sethostname every 2 ms, alone and while another container floods sysbox-mgr
# with trapped mounts and sethostname from 4 threads.
read -r idle_p50 idle_p99 _ < <(run sysbox-runc default latency "${SAMPLES:-1000}")
docker run -d --rm --pull=never --runtime=sysbox-runc --name bench-flood -v "$out:/bench:ro" "$BUSYBOX_IMAGE" /bench/syscall-loop flood 3600 > /dev/null
sleep 1
read -r busy_p50 busy_p99 _ < <(run sysbox-runc default latency "${SAMPLES:-1000}")
docker rm -f bench-flood > /dev/null
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
printf 'sysinfo trapped (emulated): %.1f us, untrapped: %.1f us, %.1fx\n' "$(echo "$sysinfo_trapped / 1000" | bc -l)" \
    "$(echo "$sysinfo_raw / 1000" | bc -l)" "$(echo "$sysinfo_trapped / $sysinfo_raw" | bc -l)"
printf 'floor (C, nothing decided, getppid CONTINUEd): %.1f us; sethostname trapped is %.2fx the floor\n' \
    "$(echo "$floor / 1000" | bc -l)" "$(echo "$trapped / $floor" | bc -l)"
# The trace shows sethostname's name, read from the caller's memory (process_vm_readv) for it.
printf 'sysbox-mgr trace running, calls in a tight loop: sethostname %.1f us against %.1f us untraced (%+.1f%%), sysinfo %.1f us against %.1f us (%+.1f%%)\n' \
    "$(echo "$traced / 1000" | bc -l)" "$(echo "$untraced / 1000" | bc -l)" "$(echo "($traced / $untraced - 1) * 100" | bc -l)" \
    "$(echo "$traced_sysinfo / 1000" | bc -l)" "$(echo "$untraced_sysinfo / 1000" | bc -l)" "$(echo "($traced_sysinfo / $untraced_sysinfo - 1) * 100" | bc -l)"
printf 'trapped tmpfs mounts of one container: 1 thread %.0f pairs/s, 8 threads %.0f pairs/s, %.2fx\n' \
    "$one_thread" "$eight_threads" "$(echo "$eight_threads / $one_thread" | bc -l)"
printf 'another container flooding: sethostname p99 %.1f us (p50 %.1f), alone p99 %.1f us (p50 %.1f), %.2fx\n' \
    "$(echo "$busy_p99 / 1000" | bc -l)" "$(echo "$busy_p50 / 1000" | bc -l)" "$(echo "$idle_p99 / 1000" | bc -l)" \
    "$(echo "$idle_p50 / 1000" | bc -l)" "$(echo "$busy_p99 / $idle_p99" | bc -l)"
printf 'sysbox-mgr trace running, one sethostname every 2 ms: p50 %.1f us against %.1f us untraced (%+.1f%%)\n' \
    "$(echo "$traced_p50 / 1000" | bc -l)" "$(echo "$idle_p50 / 1000" | bc -l)" "$(echo "($traced_p50 / $idle_p50 - 1) * 100" | bc -l)"
if [ -n "${TRAP_DATA:-}" ]; then
    us() { echo "$1 / 1000" | bc -l; }
    {
        printf 'sethostname\t%.2f\t%.2f\n' "$(us "$trapped")" "$(us "$untrapped")"
        printf 'sysinfo\t%.2f\t%.2f\n' "$(us "$sysinfo_trapped")" "$(us "$sysinfo_raw")"
        printf 'openat2\t%.2f\t%.2f\n' "$(us "$openat2_trapped")" "$(us "$openat2_raw")"
        printf 'mount-tmpfs\t%.2f\t%.2f\n' "$(us "$mount_emu")" "$(us "$mount_raw")"
        printf 'umount2\t%.2f\t%.2f\n' "$(us "$umount_emu")" "$(us "$umount_raw")"
    } > "$TRAP_DATA"
    printf 'floor\t%.2f\nflood_p99\t%.2f\nidle_p99\t%.2f\nthreads_ratio\t%.2f\ntrace_pct\t%.1f\ntrace_p50_pct\t%.1f\n' "$(us "$floor")" \
        "$(us "$busy_p99")" "$(us "$idle_p99")" "$(echo "$eight_threads / $one_thread" | bc -l)" \
        "$(echo "($traced / $untraced - 1) * 100" | bc -l)" "$(echo "($traced_p50 / $idle_p50 - 1) * 100" | bc -l)" > "$TRAP_DATA.more"
fi

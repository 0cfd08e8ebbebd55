#!/usr/bin/env bash
# Many system containers on one small host: busybox containers under Docker, each making one
# trapped call (sethostname) and one virtual /proc read (/proc/meminfo) a second, started one
# after another up to COUNT (default 200). At 1, 50, 100 and COUNT running it prints the curve:
# the time `docker run -d` took for the latest containers, the daemons' (sysbox-mgr + sysbox-fs)
# resident memory per running container, their CPU use over IDLE seconds, and the p50/p99 of a
# trapped sethostname and of a virtual /proc/meminfo read (one every 2 ms) in a probe container,
# against the same with only the probe running. Then the containers stop their calls and reads,
# and the daemons' CPU use with COUNT idle containers is measured (after sysbox-fs has stopped
# keeping their files current). Then every container is deleted and what is left of them
# (registrations, FUSE mounts, cgroups, state) is counted.
# Output: the table, and the curve as tab-separated lines for bench/report.sh (SCALE_DATA).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
COUNT=${COUNT:-200}
IDLE=${IDLE:-10}
SAMPLES=${SAMPLES:-500}
DATA=${SCALE_DATA:-/dev/null}
work=$(mktemp -d)
prefix="bench-scale-$$"
cleanup() {
    docker ps -aq --filter "name=$prefix" | xargs -r docker rm -f > /dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
gcc -O2 -static -pthread -o "$work/syscall-loop" bench/src/syscall-loop.c
chmod 755 "$work"
mgr_pid=$(cat "$SYSBOXD_STATE/mgr.pid")
fs_pid=$(cat "$SYSBOXD_STATE/fs.pid")
rss_kib() { awk '/^VmRSS/ {s += $2} END {print s}' "/proc/$mgr_pid/status" "/proc/$fs_pid/status"; }
cpu_ticks() { awk '{s += $14 + $15} END {print s}' "/proc/$mgr_pid/stat" "/proc/$fs_pid/stat"; }
threads() { echo $(($(ls "/proc/$mgr_pid/task" | wc -l) + $(ls "/proc/$fs_pid/task" | wc -l))); }
hz=$(getconf CLK_TCK)
now_ms() { echo $(($(date +%s%N) / 1000000)); }

dirs() { echo $(($(ls /var/lib/sysboxfs 2>/dev/null | wc -l) + $(ls /var/lib/sysbox/storage 2>/dev/null | wc -l))); }
dirs_before=$(dirs)
cgroups_before=$(find /sys/fs/cgroup/*/docker -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
docker run -d --pull=never --runtime=sysbox-runc --name "$prefix-probe" -v "$work:/bench:ro" "$BUSYBOX_IMAGE" sleep 100000 > /dev/null
probe() { # -> "trap_p50 trap_p99 read_p50 read_p99" in microseconds
    local t r
    t=$(docker exec "$prefix-probe" /bench/syscall-loop latency "$SAMPLES")
    r=$(docker exec "$prefix-probe" /bench/syscall-loop read-latency /proc/meminfo "$SAMPLES")
    echo "$t $r" | awk '{printf "%.1f %.1f %.1f %.1f\n", $1 / 1000, $2 / 1000, $4 / 1000, $5 / 1000}'
}
sleep 2
rss0=$(rss_kib)
read -r base_tp50 base_tp99 base_rp50 base_rp99 < <(probe)
threads0=$(threads)

declare -a starts
measure() { # n
    local n=$1 c0 c1 rss cpu from to i p tp50 tp99 rp50 rp99
    c0=$(cpu_ticks); sleep "$IDLE"; c1=$(cpu_ticks)
    rss=$(rss_kib)
    cpu=$(echo "($c1 - $c0) * 100 / $hz / $IDLE" | bc -l)
    # The start time at n: the median of the last (up to) 5 starts.
    from=$((n > 5 ? n - 5 : 0)); to=$((n - 1))
    p=$(for i in $(seq "$from" "$to"); do echo "${starts[$i]}"; done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    read -r tp50 tp99 rp50 rp99 < <(probe)
    printf '%9d %12d %14.1f %9.1f %8d %9.1f %9.1f %9.1f %9.1f\n' "$n" "$p" "$(echo "($rss - $rss0) / $n" | bc -l)" "$cpu" \
        "$(($(threads) - threads0))" "$tp50" "$tp99" "$rp50" "$rp99"
    printf '%d\t%d\t%.1f\t%.2f\t%.1f\t%.1f\t%.1f\t%.1f\n' "$n" "$p" "$(echo "($rss - $rss0) / $n" | bc -l)" "$cpu" "$tp50" "$tp99" "$rp50" "$rp99" >> "$DATA"
}

echo "only the probe running: trapped sethostname p50 $base_tp50 us p99 $base_tp99 us; /proc/meminfo read p50 $base_rp50 us p99 $base_rp99 us"
printf '# n\tstart_ms\trss_kib_per_ctr\tcpu_pct\ttrap_p50_us\ttrap_p99_us\tread_p50_us\tread_p99_us\n' >> "$DATA"
printf '0\t0\t0\t0\t%.1f\t%.1f\t%.1f\t%.1f\n' "$base_tp50" "$base_tp99" "$base_rp50" "$base_rp99" >> "$DATA"
printf '%9s %12s %14s %9s %8s %9s %9s %9s %9s\n' running start_ms rss_KiB/ctr daemon% +threads trap_p50 trap_p99 read_p50 read_p99
failed=0
for i in $(seq 1 "$COUNT"); do
    t0=$(now_ms)
    if ! docker run -d --pull=never --runtime=sysbox-runc --name "$prefix-$i" -v "$work:/bench:ro" "$BUSYBOX_IMAGE" \
        sh -c 'while [ ! -e /bench/stop ]; do hostname c; cat /proc/meminfo > /dev/null; sleep 1; done; exec sleep 1000000' \
        > /dev/null; then
        failed=$((failed + 1))
    fi
    starts[$((i - 1))]=$(($(now_ms) - t0))
    case $i in 1 | 50 | 100 | "$COUNT") measure "$i" ;; esac
done
# Idle: every container stops its calls and reads; sysbox-fs stops keeping a file current 10 s
# after its last read reached it (ContainerFiles.coolAfter).
touch "$work/stop"
sleep 14
c0=$(cpu_ticks); sleep "$IDLE"; c1=$(cpu_ticks)
printf "the daemons' CPU with %d idle containers: %.2f%%\n" "$COUNT" "$(echo "($c1 - $c0) * 100 / $hz / $IDLE" | bc -l)"
running=$(docker ps -q --filter "name=$prefix-" | wc -l)
echo "started $COUNT, $failed failed, $running running (with the probe)"
printf 'the last start against the first: %.2fx (medians of 5: %d ms, %d ms)\n' \
    "$(echo "$(printf '%s\n' "${starts[@]: -5}" | sort -n | sed -n 3p) / $(printf '%s\n' "${starts[@]:0:5}" | sort -n | sed -n 3p)" | bc -l)" \
    "$(printf '%s\n' "${starts[@]:0:5}" | sort -n | sed -n 3p)" "$(printf '%s\n' "${starts[@]: -5}" | sort -n | sed -n 3p)"
t0=$(now_ms)
docker ps -aq --filter "name=$prefix" | xargs -r docker rm -f > /dev/null
echo "deleted all in $(($(now_ms) - t0)) ms"
sleep 3
registered=$(sysbox-mgr status | tail -n +2 | wc -l)
fuse=$(grep -c 'fuse.sysboxfs' /proc/self/mountinfo || true)
cgroups=$(($(find /sys/fs/cgroup/*/docker -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l) - cgroups_before))
echo "left behind: $registered registrations, $fuse FUSE mounts, $cgroups container cgroups, $(($(dirs) - dirs_before)) virtual-file or storage dirs; daemons' threads $(($(threads) - threads0)) above the start"

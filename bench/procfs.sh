#!/usr/bin/env bash
# Cost of reading virtual /proc files: open + read + close loops (bench/src/readloop.c) of uptime,
# meminfo, stat, cpuinfo and loadavg inside a sysbox-runc system container, against the host's
# native files and against LXCFS (Debian's lxcfs, started here on a temporary mount point), in one
# run, interleaved over ROUNDS rounds; prints the medians and the ratios.
# Goals: <= 3x native; >= 10x faster than LXCFS. Needs the daemons of scripts/daemons.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROUNDS=${ROUNDS:-3}
N=${N:-20000}          # loops per sample for native and sysbox files
NL=${NL:-1000}         # loops per sample through LXCFS (each one is a FUSE round trip)
FILES="uptime meminfo stat cpuinfo loadavg"
command -v lxcfs >/dev/null || { echo "lxcfs is not installed (apt-get install lxcfs)" >&2; exit 1; }

work=$(mktemp -d) && chmod 0755 "$work"
lxpid=""
cleanup() {
    docker rm -f sysboxd-bench-procfs >/dev/null 2>&1 || true
    if [ -n "$lxpid" ]; then kill "$lxpid" 2>/dev/null || true; wait "$lxpid" 2>/dev/null || true; fi
    umount -l "$work/lxcfs" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
gcc -O2 -static -o "$work/readloop" bench/src/readloop.c
mkdir -p "$work/lxcfs"
lxcfs "$work/lxcfs" > "$work/lxcfs.log" 2>&1 & lxpid=$!
for _ in $(seq 50); do [ -e "$work/lxcfs/proc/meminfo" ] && break; sleep 0.1; done
[ -e "$work/lxcfs/proc/meminfo" ] || { echo "lxcfs did not come up: $(cat "$work/lxcfs.log")" >&2; exit 1; }
docker run -d --name sysboxd-bench-procfs --runtime=sysbox-runc --pull=never -m 512m -v "$work:/bench:ro" \
    "$BUSYBOX_IMAGE" sleep 100000 >/dev/null

declare -A s
for r in $(seq 1 "$ROUNDS"); do
    for f in $FILES; do
        s[native-$f]+="$("$work/readloop" "/proc/$f" "$N") "
        s[sysbox-$f]+="$(docker exec sysboxd-bench-procfs /bench/readloop "/proc/$f" "$N") "
        s[lxcfs-$f]+="$("$work/readloop" "$work/lxcfs/proc/$f" "$NL") "
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-8s %12s %12s %12s %16s %16s\n' file "native µs" "sysbox µs" "lxcfs µs" "sysbox/native" "lxcfs/sysbox"
for f in $FILES; do
    n=$(echo "${s[native-$f]}" | median); b=$(echo "${s[sysbox-$f]}" | median); l=$(echo "${s[lxcfs-$f]}" | median)
    printf '%-8s %12.2f %12.2f %12.2f %15.2fx %15.1fx\n' "$f" "$n" "$b" "$l" "$(echo "$b / $n" | bc -l)" "$(echo "$l / $b" | bc -l)"
    [ -z "${PROCFS_DATA:-}" ] || printf '%s\t%s\t%s\t%s\n' "$f" "$n" "$b" "$l" >> "$PROCFS_DATA"
done
echo "(uptime is served natively by the container's time namespace; the others by sysbox-fs)"

# /proc/sys: the kernel's files through sysbox-fs's second connection, in the caller's namespaces
# (a FUSE round trip per open and read; no goal: LXCFS does not serve /proc/sys), and a private
# knob of the policy, bound over it (page cache, as the files above).
declare -A k
for r in $(seq 1 "$ROUNDS"); do
    for f in kernel/ostype net/ipv4/ip_forward kernel/panic; do
        k[native-$f]+="$("$work/readloop" "/proc/sys/$f" "$N") "
        k[sysbox-$f]+="$(docker exec sysboxd-bench-procfs /bench/readloop "/proc/sys/$f" "$NL") "
    done
done
printf '%-20s %12s %12s %16s\n' "/proc/sys/..." "native µs" "sysbox µs" "sysbox/native"
for f in kernel/ostype net/ipv4/ip_forward kernel/panic; do
    n=$(echo "${k[native-$f]}" | median); b=$(echo "${k[sysbox-$f]}" | median)
    printf '%-20s %12.2f %12.2f %15.2fx\n' "$f" "$n" "$b" "$(echo "$b / $n" | bc -l)"
done
echo "(kernel/panic is a private knob of the policy; the other two are the kernel's, served by sysbox-fs)"

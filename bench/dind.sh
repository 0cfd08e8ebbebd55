#!/usr/bin/env bash
# Docker in Docker: inner `docker load` + `docker run --rm` of a LAYERS-layer Debian image in a
# sysbox-runc system container (inner Docker on overlay2) vs the closest Docker-in-Docker runc allows
# here without --privileged (every capability but CAP_SYS_RESOURCE, seccomp and AppArmor unconfined:
# the inner Docker falls back to vfs), in one run, ratio printed; then the time from `docker run -d`
# of a systemd system container to `systemctl is-system-running` = running.
# Needs the daemons of scripts/daemons.sh and `scripts/images.sh debian`.
#
# Each timed step starts on a settled filesystem: `sync`, then SETTLE seconds (default 61). On ext4
# without a journal (this VM's root) the inode allocator skips every inode freed less than 60 s ago
# (360 s while its inode-table block is still dirty) and pays a buffer lookup for each one it skips
# (fs/ext4/ialloc.c, recently_deleted), so a load right after the previous step's `docker rmi`
# (tens of thousands of files on the vfs side) spent seconds of system time scanning for free
# inodes, and always on the side measured next. Both sides get the same settling; SETTLE=0 turns it
# off. CPU seconds (user+system of the container's cgroup) are printed beside the wall time: on two
# vCPUs shared with other work they vary less.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROUNDS=${ROUNDS:-3}
# The Debian image plus LAYERS-1 small layers, as images built from a Dockerfile have: vfs copies the
# whole tree below for each layer, overlay2 stacks it. LAYERS=3 was this benchmark's earlier image.
LAYERS=${LAYERS:-6}
SETTLE=${SETTLE:-61}
work=$(mktemp -d)
names=()
cleanup() { for n in "${names[@]}"; do docker rm -f "$n" >/dev/null 2>&1 || true; done; docker rmi bench-inner >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
now() { date +%s%N; }
secs() { echo "scale=3; ($2 - $1) / 1000000000" | bc; }

# The inner image: the Debian image plus small layers (a setting, a file), as real images have several.
{
    echo "FROM $DEBIAN_IMAGE"
    for i in $(seq 2 "$LAYERS"); do echo "RUN echo layer $i > /layer$i"; done
    echo 'CMD ["true"]'
} > "$work/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t bench-inner "$work" >/dev/null 2>&1
docker save bench-inner -o "$work/inner.tar"
echo "inner image: $(du -m "$work/inner.tar" | cut -f1) MB, $(docker image inspect -f '{{len .RootFS.Layers}}' bench-inner) layers"

# CPU seconds (user+system) the container's cgroup has used so far, or "" when it cannot be found.
cpu_of() {
    local id; id=$(docker inspect -f '{{.Id}}' "$1")
    local v1=/sys/fs/cgroup/cpuacct/docker/$id/cpuacct.usage v2=/sys/fs/cgroup/docker/$id/cpu.stat
    if [ -r "$v1" ]; then echo "scale=3; $(cat "$v1") / 1000000000" | bc
    elif [ -r "$v2" ]; then awk '$1 == "usage_usec" {printf "%.3f\n", $2 / 1000000}' "$v2"; fi
}
settle() { sync; sleep "$SETTLE"; }
wait_docker() { for _ in $(seq 1 600); do docker exec "$1" docker info >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "inner docker of $1 never came up" >&2; return 1; }
# docker load + docker run --rm in container $1: wall seconds (total, load, run) and CPU seconds of
# the container over both; the inner image is removed afterwards (untimed).
round() {
    settle
    local t0 t1 c0 c1
    c0=$(cpu_of "$1")
    t0=$(now)
    docker exec "$1" docker load -i /bench/inner.tar >/dev/null
    local t1; t1=$(now)
    docker exec "$1" docker run --rm bench-inner true
    local t2; t2=$(now)
    c1=$(cpu_of "$1")
    docker exec "$1" docker rmi -f bench-inner >/dev/null
    local cpu=0; [ -n "$c0" ] && [ -n "$c1" ] && cpu=$(echo "$c1 - $c0" | bc)
    echo "$(secs "$t0" "$t2") $(secs "$t0" "$t1") $(secs "$t1" "$t2") $cpu"
}

names+=(bench-sysbox bench-runc)
# The tarball comes in through a read-only bind mount on both sides.
docker run --runtime=sysbox-runc -d --name bench-sysbox --pull=never -v "$work:/bench:ro" "$DEBIAN_IMAGE" >/dev/null
# runc mounts the cgroup hierarchies read-only: the inner Docker needs them writable.
docker run --runtime=runc -d --name bench-runc --pull=never --cap-add ALL --cap-drop SYS_RESOURCE \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined --cgroupns private \
    --tmpfs /run -v "$work:/bench:ro" "$DEBIAN_IMAGE" sh -c \
    'mount -o remount,rw /sys/fs/cgroup; for d in /sys/fs/cgroup/*; do mount -o remount,bind,rw "$d"; done; exec dockerd' >/dev/null
wait_docker bench-sysbox; wait_docker bench-runc
echo "inner storage driver: sysbox-runc $(docker exec bench-sysbox docker info -f '{{.Driver}}'), runc $(docker exec bench-runc docker info -f '{{.Driver}}')"
echo "each timed step after sync + ${SETTLE} s"
s=(); r=(); sl=(); rl=(); sr=(); rr=(); sc=(); rc=()
for i in $(seq 1 "$ROUNDS"); do
    read -r a b c d <<< "$(round bench-sysbox)"; s+=("$a"); sl+=("$b"); sr+=("$c"); sc+=("$d")
    read -r a b c d <<< "$(round bench-runc)"; r+=("$a"); rl+=("$b"); rr+=("$c"); rc+=("$d")
    echo "round $i: sysbox-runc ${s[-1]} s (${sc[-1]} CPU s), runc-vfs ${r[-1]} s (${rc[-1]} CPU s)"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ms=$(median "${s[@]}"); mr=$(median "${r[@]}")
printf 'inner load+run, sysbox-runc (overlay2): median %.2f s (load %.2f, run %.2f), %.2f CPU s\n' "$ms" "$(median "${sl[@]}")" "$(median "${sr[@]}")" "$(median "${sc[@]}")"
printf 'inner load+run, runc near-privileged (vfs): median %.2f s (load %.2f, run %.2f), %.2f CPU s\n' "$mr" "$(median "${rl[@]}")" "$(median "${rr[@]}")" "$(median "${rc[@]}")"
printf 'ratio runc-vfs / sysbox-runc: %.2fx faster\n' "$(echo "$mr / $ms" | bc -l)"
msc=$(median "${sc[@]}"); [ "$(echo "$msc > 0" | bc)" = 1 ] && \
    printf 'ratio of CPU seconds runc-vfs / sysbox-runc: %.2fx\n' "$(echo "$(median "${rc[@]}") / $msc" | bc -l)"
docker rm -f bench-sysbox bench-runc >/dev/null

# systemd: docker run -d to "running".
boots=()
for i in $(seq 1 "$ROUNDS"); do
    names+=("bench-boot$i")
    t0=$(now)
    docker run --runtime=sysbox-runc -d --name "bench-boot$i" --pull=never "$DEBIAN_IMAGE" >/dev/null
    until [ "$(docker exec "bench-boot$i" systemctl is-system-running 2>/dev/null)" = running ]; do sleep 0.05; done
    boots+=("$(secs "$t0" "$(now)")")
    docker rm -f "bench-boot$i" >/dev/null
done
printf 'systemd system container, docker run to running: median %.2f s (%s)\n' "$(median "${boots[@]}")" "${boots[*]}"

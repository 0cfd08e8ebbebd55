#!/usr/bin/env bash
# Docker in Docker: inner `docker load` + `docker run --rm` of a LAYERS-layer Debian image in a
# sysbox-runc system container (inner Docker on overlay2) vs the closest Docker-in-Docker runc allows
# here without --privileged (every capability but CAP_SYS_RESOURCE, seccomp and AppArmor unconfined:
# the inner Docker falls back to vfs), in one run, ratio printed; then the time from `docker run -d`
# of a systemd system container to `systemctl is-system-running` = running.
# Needs the daemons of scripts/daemons.sh and `scripts/images.sh debian`.
#
# Every round starts a fresh pair of outer containers, as a CI job does, and the outer containers are
# deleted only at the end. Each timed step starts after `sync` + SETTLE seconds (default 5), so
# neither side pays for the other's writeback. CPU seconds (user+system of the container's cgroup)
# are printed beside the wall time: on two vCPUs shared with other work they vary less.
#
# Deletions: on ext4 without a journal (this VM's root) the inode allocator skips every inode freed
# less than 60 s ago, 360 s while its inode-table block is dirty (and allocating an inode next to it
# dirties it), paying a buffer lookup for each one skipped (fs/ext4/ialloc.c, recently_deleted). A
# load soon after a deletion of tens of thousands of files (the vfs side's `docker run --rm` removes
# two copies of the image) spent more than half its extraction time in that scan. On such a
# filesystem every round therefore starts QUIET seconds (default 360, else 0) after the last large
# deletion, and runs the overlay2 side first (its `--rm` removes a few files) and the vfs side next.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROUNDS=${ROUNDS:-3}
# The Debian image plus LAYERS-1 small layers, as images built from a Dockerfile have: vfs copies the
# whole tree below for each layer, overlay2 stacks it. LAYERS=3 was this benchmark's earlier image.
LAYERS=${LAYERS:-6}
SETTLE=${SETTLE:-5}
# ext4 without a journal under either Docker data root: its sysfs journal_task says "<none>".
nojournal() { local d; d=$(findmnt -no SOURCE -T "$1" | sed 's/\[.*//'); d=${d##*/}; [ "$(cat "/sys/fs/ext4/$d/journal_task" 2>/dev/null)" = "<none>" ]; }
if [ -z "${QUIET:-}" ]; then QUIET=0; if nojournal "$MGR_DATA" || nojournal "$DOCKER_DATA"; then QUIET=360; fi; fi
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
# This VM's DAMON reclaim (kdamond) pages out file cache unused for a minute, so after a wait the
# tarball and the inner Docker's programs (the same files on both sides: both outer containers run
# on the same image layers) would come from disk for whichever side goes first. Both are read once
# more, untimed, in container $1.
settle() {
    sync; sleep "$SETTLE"
    cat "$work/inner.tar" > /dev/null
    docker exec "$1" sh -c 'for p in docker dockerd containerd containerd-shim-runc-v2 runc docker-init docker-proxy; do
        f=$(command -v $p) && cat "$(readlink -f "$f")"; done > /dev/null'
}
wait_docker() { for _ in $(seq 1 600); do docker exec "$1" docker info >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "inner docker of $1 never came up" >&2; return 1; }
# docker load + docker run --rm in container $1: wall seconds (total, load, run) and CPU seconds of
# the container over both.
round() {
    settle "$1"
    local t0 t1 t2 c0 c1
    c0=$(cpu_of "$1")
    t0=$(now)
    docker exec "$1" docker load -i /bench/inner.tar >/dev/null
    t1=$(now)
    docker exec "$1" docker run --rm bench-inner true
    t2=$(now)
    c1=$(cpu_of "$1")
    local cpu=0; [ -n "$c0" ] && [ -n "$c1" ] && cpu=$(echo "$c1 - $c0" | bc)
    echo "$(secs "$t0" "$t2") $(secs "$t0" "$t1") $(secs "$t1" "$t2") $cpu"
}

# One fresh outer container of each kind for round $1, inner Docker up; the tarball comes in through
# a read-only bind mount on both sides. runc mounts the cgroup hierarchies read-only: the inner
# Docker needs them writable.
outer_pair() {
    names+=("bench-sysbox$1" "bench-runc$1")
    docker run --runtime=sysbox-runc -d --name "bench-sysbox$1" --pull=never -v "$work:/bench:ro" "$DEBIAN_IMAGE" >/dev/null
    docker run --runtime=runc -d --name "bench-runc$1" --pull=never --cap-add ALL --cap-drop SYS_RESOURCE \
        --security-opt seccomp=unconfined --security-opt apparmor=unconfined --cgroupns private \
        --tmpfs /run -v "$work:/bench:ro" "$DEBIAN_IMAGE" sh -c \
        'mount -o remount,rw /sys/fs/cgroup; for d in /sys/fs/cgroup/*; do mount -o remount,bind,rw "$d"; done; exec dockerd' >/dev/null
    wait_docker "bench-sysbox$1"; wait_docker "bench-runc$1"
}
echo "each round: a fresh pair of outer containers, started ${QUIET} s after the last large deletion; each timed step after sync + ${SETTLE} s"
s=(); r=(); sl=(); rl=(); sr=(); rr=(); sc=(); rc=()
for i in $(seq 1 "$ROUNDS"); do
    outer_pair "$i"
    sleep "$QUIET"
    [ "$i" = 1 ] && echo "inner storage driver: sysbox-runc $(docker exec bench-sysbox1 docker info -f '{{.Driver}}'), runc $(docker exec bench-runc1 docker info -f '{{.Driver}}')"
    read -r a b c d <<< "$(round "bench-sysbox$i")"; s+=("$a"); sl+=("$b"); sr+=("$c"); sc+=("$d")
    read -r a b c d <<< "$(round "bench-runc$i")"; r+=("$a"); rl+=("$b"); rr+=("$c"); rc+=("$d")
    echo "round $i: sysbox-runc ${s[-1]} s (load ${sl[-1]}, run ${sr[-1]}; ${sc[-1]} CPU s), runc-vfs ${r[-1]} s (load ${rl[-1]}, run ${rr[-1]}; ${rc[-1]} CPU s)"
    # Stopped, not deleted: an idle pair would share the CPUs with the next round.
    docker stop -t 20 "bench-sysbox$i" "bench-runc$i" >/dev/null
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ms=$(median "${s[@]}"); mr=$(median "${r[@]}")
printf 'inner load+run, sysbox-runc (overlay2): median %.2f s (load %.2f, run %.2f), %.2f CPU s\n' "$ms" "$(median "${sl[@]}")" "$(median "${sr[@]}")" "$(median "${sc[@]}")"
printf 'inner load+run, runc near-privileged (vfs): median %.2f s (load %.2f, run %.2f), %.2f CPU s\n' "$mr" "$(median "${rl[@]}")" "$(median "${rr[@]}")" "$(median "${rc[@]}")"
printf 'ratio runc-vfs / sysbox-runc: %.2fx faster\n' "$(echo "$mr / $ms" | bc -l)"
msc=$(median "${sc[@]}"); [ "$(echo "$msc > 0" | bc)" = 1 ] && \
    printf 'ratio of CPU seconds runc-vfs / sysbox-runc: %.2fx\n' "$(echo "$(median "${rc[@]}") / $msc" | bc -l)"
for n in "${names[@]}"; do docker rm -f "$n" >/dev/null 2>&1 || true; done; names=()

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

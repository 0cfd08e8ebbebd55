#!/usr/bin/env bash
# The README's first command: installs, builds, starts sysbox-mgr, sysbox-fs and a private dockerd with the
# runtime registered, builds the busybox test image, then runs a system container that shows what
# makes it one. The daemons stay up (stop them with: bash scripts/daemons.sh stop).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
bash scripts/install-deps.sh
bash scripts/build.sh
bash scripts/daemons.sh start
bash scripts/images.sh
. scripts/env.sh
echo
echo "\$ docker run --runtime=sysbox-runc --rm --pull=never -m 256m --cpus 1 $BUSYBOX_IMAGE ..."
docker run --runtime=sysbox-runc --rm --pull=never -m 256m --cpus 1 "$BUSYBOX_IMAGE" sh -c '
echo "whoami inside:      $(id -un) (uid $(id -u))"
echo "uid_map:            $(cat /proc/self/uid_map | tr -s " ")"
echo "capabilities:       $(grep CapEff /proc/self/status | cut -f2) (all of its user namespace)"
echo "image files owned:  $(stat -c %U:%G /bin/busybox) (not chowned on disk)"
touch /written-by-root && echo "root can write:     yes"
echo "cgroup delegated:   $(mkdir /sys/fs/cgroup/pids/sub && rmdir /sys/fs/cgroup/pids/sub && echo yes)"
echo "memory (/proc):     $(awk "/^MemTotal:/ {print \$2, \$3}" /proc/meminfo) (its -m 256m limit)"
echo "cpus (/proc):       $(grep -c ^processor /proc/cpuinfo), online $(cat /sys/devices/system/cpu/online) (its --cpus 1)"
echo "uptime:             $(cut -d" " -f1 /proc/uptime) s (since the container started)"'
echo
echo "Daemons are running; DOCKER_HOST=$DOCKER_HOST. Stop them with: bash scripts/daemons.sh stop"

#!/usr/bin/env bash
# The README's first command: installs, builds, starts sysbox-mgr, sysbox-fs and a private dockerd with the
# runtime registered, builds the test images (the Debian one by debootstrap, about a minute the first
# time, cached after), then runs two system containers that show what makes them one: a busybox one
# (ids, capabilities, its own /proc) and a Debian one with systemd as PID 1 and Docker inside on
# overlay2. The daemons stay up (stop them with: bash scripts/daemons.sh stop).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
bash scripts/install-deps.sh
if [ "$(ps -o comm= -p 1)" = systemd ] && [ -z "${SYSBOXD_PRIVATE_DAEMONS:-}" ]; then
    # A systemd host: the package, its units, and the host's own Docker on its default socket.
    echo "PID 1 is systemd: building the package and installing it for this host's Docker (SYSBOXD_PRIVATE_DAEMONS=1 keeps private daemons instead)"
    bash scripts/package.sh
    bash scripts/install-package.sh "$(ls dist/sysboxd_*_amd64.deb | tail -1)"
    export SYSBOXD_DOCKER_HOST=unix:///var/run/docker.sock
    . scripts/env.sh
else
    echo "PID 1 is not systemd: sysbox-mgr, sysbox-fs and a dockerd of their own, started by hand"
    bash scripts/build.sh
    bash scripts/daemons.sh start
    . scripts/env.sh
fi
bash scripts/images.sh all
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
echo "\$ docker run --runtime=sysbox-runc -d --name sysboxd-demo --pull=never $DEBIAN_IMAGE"
docker rm -f sysboxd-demo >/dev/null 2>&1 || true
# Removed on any failure from here on, a create that failed halfway included.
trap 'docker rm -f sysboxd-demo >/dev/null 2>&1 || true' EXIT
docker run --runtime=sysbox-runc -d --name sysboxd-demo --pull=never "$DEBIAN_IMAGE" >/dev/null
state=""
for _ in $(seq 1 450); do
    state=$(docker exec sysboxd-demo systemctl is-system-running 2>/dev/null || true)
    case $state in running|degraded) break ;; esac
    sleep 0.2
done
echo "PID 1:              $(docker exec sysboxd-demo cat /proc/1/comm), is-system-running: $state"
echo "privileged on host: $(docker inspect -f '{{.HostConfig.Privileged}}' sysboxd-demo), uid_map: $(docker exec sysboxd-demo cat /proc/1/uid_map | tr -s ' ')"
for _ in $(seq 1 300); do docker exec sysboxd-demo docker info >/dev/null 2>&1 && break; sleep 0.2; done
echo "inner Docker:       storage driver $(docker exec sysboxd-demo docker info -f '{{.Driver}}')"
docker save "$BUSYBOX_IMAGE" | docker exec -i sysboxd-demo docker load >/dev/null
echo "inner container:    $(docker exec sysboxd-demo docker run --rm "$BUSYBOX_IMAGE" sh -c 'echo "$(hostname) says hello, pid $$"')"
docker stop sysboxd-demo >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' sysboxd-demo)
if [ "$code" = 130 ]; then echo "docker stop:        systemd halted itself on SIGRTMIN+3 (exit 130)"
else echo "docker stop:        exit $code: systemd did not halt by itself (see docs/troubleshooting.md)"; fi
docker rm -f sysboxd-demo >/dev/null
trap - EXIT
echo
if [ "$DOCKER_HOST" = unix:///var/run/docker.sock ]; then
    echo "sysboxd is installed (systemctl status sysbox); the host's Docker runs system containers with --runtime=sysbox-runc"
else
    echo "Daemons are running; DOCKER_HOST=$DOCKER_HOST. Stop them with: bash scripts/daemons.sh stop"
fi

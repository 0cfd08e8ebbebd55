#!/usr/bin/env bash
# Docker end-to-end suite: `docker run --runtime=sysbox-runc` as a user runs it, against the private
# dockerd of scripts/daemons.sh. Every test removes its containers and checks nothing is left behind.
set -uo pipefail
cd "$(dirname "$0")"
. ../../scripts/env.sh
. ../lib.sh
RT=${RUNTIME:-sysbox-runc}
IMG=$BUSYBOX_IMAGE
STATE_ROOT=$DOCKER_EXEC/runtime-runc/moby

drun() { docker run --runtime="$RT" --pull=never "$@"; }
cid() { docker inspect -f '{{.Id}}' "$1"; }
rmc() { local id; id=$(cid "$1" 2>/dev/null) || return 0; docker rm -f "$1" >/dev/null; eventually "! grep -q $id /proc/self/mountinfo" 10; assert_no_leftovers "$id" "$STATE_ROOT"; }

# A process is gone once it no longer runs (a zombie PID 1 has not reaped yet counts as gone, and so
# does one with SIGKILL pending whose thread waits in a FUSE request its successor will answer).
gone() {
    kill -0 "$1" 2>/dev/null || return 0
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] || return 0
    local m; for m in $(awk '/^(ShdPnd|SigPnd):/ {print $2}' "/proc/$1/status" 2>/dev/null); do
        [ $(( 0x$m & 0x100 )) -eq 0 ] || return 0
    done
    return 1
}
# Sends a signal to a daemon of scripts/daemons.sh (keep, mgr, fs) and waits until it is gone, so
# that `daemons.sh start` starts a new one rather than finding the old one still exiting.
kill_daemon() { # name signal
    local pid; pid=$(cat "$SYSBOXD_STATE/$1.pid")
    kill -"$2" "$pid"; eventually "gone $pid" 10 || fail "sysbox-$1 (pid $pid) still runs after SIG$2"
}

after_failure() {
    local d; for d in keep mgr fs; do
        echo "-- last lines of sysbox-$d.log"; tail -6 "$SYSBOXD_STATE/sysbox-$d.log" 2>/dev/null | cut -c1-300
    done
    bash ../../scripts/daemons.sh start >/dev/null || echo "the daemons could not be started again"
}

# Every container a case made goes, even when the case failed half-way (they are all named e2e-*).
after_case() { docker ps -aq --filter name=e2e- | xargs -r docker rm -f; }

for f in ${E2E_SUITES:-cell.sh basic.sh lifecycle.sh resources.sh userns.sh trap.sh attack.sh crash.sh load.sh errors.sh procfs.sh system.sh network.sh ctr.sh}; do . "./$f"; done
summary

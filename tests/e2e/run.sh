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

for f in ${E2E_SUITES:-basic.sh lifecycle.sh resources.sh userns.sh trap.sh attack.sh crash.sh load.sh errors.sh procfs.sh system.sh}; do . "./$f"; done
summary

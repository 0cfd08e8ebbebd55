#!/usr/bin/env bash
# Starts or stops the daemons the tests use: sysbox-keep, sysbox-mgr, sysbox-fs and a private dockerd (its own data-root,
# exec-root, socket and pidfile, with sysbox-runc and crun registered). Stops only what it started.
set -euo pipefail
. "$(dirname "$0")/env.sh"
mkdir -p "$SYSBOXD_STATE"

wait_for() { # condition description
    for _ in $(seq 1 150); do eval "$1" && return 0; sleep 0.2; done
    echo "timed out waiting for $2" >&2; return 1
}

# Running, and neither a zombie (PID 1 here may not reap orphans at once) nor killed and waiting in
# the kernel to die (SIGKILL pending: a thread stuck in a FUSE request that only its successor can
# answer; the daemon itself takes over such a holder's pid file).
alive() {
    [ -f "$1" ] || return 1
    local pid; pid=$(cat "$1")
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
    ! sigkill_pending "$pid"
}
sigkill_pending() {
    local mask; mask=$(awk '/^(ShdPnd|SigPnd):/ {print $2}' "/proc/$1/status" 2>/dev/null)
    local m; for m in $mask; do [ $(( 0x$m & 0x100 )) -eq 0 ] || return 0; done
    return 1
}

start() {
    if ! alive "$SYSBOXD_STATE/keep.pid"; then
        rm -f "$KEEP_SOCK"   # a killed one leaves its socket: wait for the new one
        mkdir -p "$(dirname "$KEEP_SOCK")"
        setsid "$BIN_DIR/sysbox-keep" --socket "$KEEP_SOCK" </dev/null >/dev/null 2>>"$SYSBOXD_STATE/sysbox-keep.log" &
        echo $! > "$SYSBOXD_STATE/keep.pid"
        wait_for '[ -S "$KEEP_SOCK" ]' "sysbox-keep socket"
    fi
    if ! alive "$SYSBOXD_STATE/mgr.pid"; then
        rm -f "$MGR_SOCK"   # a killed one leaves its socket: wait for the new one
        setsid "$BIN_DIR/sysbox-mgr" --socket "$MGR_SOCK" --data-root "$MGR_DATA" --log "$SYSBOXD_STATE/sysbox-mgr.log" \
            </dev/null >/dev/null 2>&1 & echo $! > "$SYSBOXD_STATE/mgr.pid"
        wait_for '[ -S "$MGR_SOCK" ]' "sysbox-mgr socket"
    fi
    if ! alive "$SYSBOXD_STATE/fs.pid"; then
        rm -f "$FS_SOCK"   # a killed one leaves its socket: wait for the new one
        setsid "$BIN_DIR/sysbox-fs" --socket "$FS_SOCK" --log "$SYSBOXD_STATE/sysbox-fs.log" \
            </dev/null >/dev/null 2>>"$SYSBOXD_STATE/sysbox-fs.err" & echo $! > "$SYSBOXD_STATE/fs.pid"
        wait_for '[ -S "$FS_SOCK" ]' "sysbox-fs socket"
    fi
    if ! alive "$SYSBOXD_STATE/dockerd.pid"; then
        mkdir -p "$(dirname "$DOCKER_CONFIG_FILE")"
        local bridge=""
        if [ -n "$SYSBOXD_STACK" ]; then
            # A second dockerd must not share (and, stopping, remove) the default one's docker0.
            local br=sbx-${SYSBOXD_STACK:0:11} n; n=$(( $(echo "$SYSBOXD_STACK" | cksum | cut -d' ' -f1) % 200 + 20 ))
            ip link show "$br" >/dev/null 2>&1 || { ip link add "$br" type bridge && ip addr add "172.31.$n.1/24" dev "$br" && ip link set "$br" up; }
            bridge="\"bridge\": \"$br\","
        fi
        cat > "$DOCKER_CONFIG_FILE" <<JSON
{
  $bridge
  "runtimes": {
    "sysbox-runc": {"path": "$BIN_DIR/sysbox-runc"},
    "crun": {"path": "/usr/bin/crun"}
  },
  "storage-driver": "overlay2"
}
JSON
        setsid dockerd --data-root "$DOCKER_DATA" --exec-root "$DOCKER_EXEC" --pidfile "$SYSBOXD_STATE/dockerd-self.pid" \
            -H "unix://$DOCKER_SOCK" --config-file "$DOCKER_CONFIG_FILE" </dev/null > "$SYSBOXD_STATE/dockerd.log" 2>&1 &
        echo $! > "$SYSBOXD_STATE/dockerd.pid"
        wait_for 'docker info >/dev/null 2>&1' "dockerd"
    fi
    echo "daemons up: sysbox-keep pid $(cat "$SYSBOXD_STATE/keep.pid"), sysbox-mgr pid $(cat "$SYSBOXD_STATE/mgr.pid"), sysbox-fs pid $(cat "$SYSBOXD_STATE/fs.pid"), dockerd pid $(cat "$SYSBOXD_STATE/dockerd.pid")"
}

stop_one() { # pidfile
    local f=$1
    alive "$f" || { rm -f "$f"; return 0; }
    local pid; pid=$(cat "$f")
    kill -TERM "$pid"
    for _ in $(seq 1 100); do alive "$f" || break; sleep 0.2; done
    alive "$f" && kill -KILL "$pid"
    rm -f "$f"
}

stop() {
    stop_one "$SYSBOXD_STATE/dockerd.pid"
    stop_one "$SYSBOXD_STATE/fs.pid"
    stop_one "$SYSBOXD_STATE/mgr.pid"
    stop_one "$SYSBOXD_STATE/keep.pid"
    # dockerd binds its host network namespace under its exec-root and leaves it there on exit.
    if ! alive "$SYSBOXD_STATE/dockerd.pid" && mountpoint -q "$DOCKER_EXEC/netns/default" 2>/dev/null; then
        umount "$DOCKER_EXEC/netns/default" || true
    fi
    if [ -n "$SYSBOXD_STACK" ]; then ip link del "sbx-${SYSBOXD_STACK:0:11}" 2>/dev/null || true; fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) alive "$SYSBOXD_STATE/mgr.pid" && echo "sysbox-mgr up" || echo "sysbox-mgr down"
            alive "$SYSBOXD_STATE/fs.pid" && echo "sysbox-fs up" || echo "sysbox-fs down"
            alive "$SYSBOXD_STATE/dockerd.pid" && echo "dockerd up" || echo "dockerd down"
            alive "$SYSBOXD_STATE/keep.pid" && echo "sysbox-keep up" || echo "sysbox-keep down" ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

# A small test harness: `t NAME FUNCTION` runs a test, `summary` prints "N passed, M failed".
# T_ONLY=TEXT runs only the cases whose name contains TEXT. A suite may define `after_failure`: its
# output is printed under a failed case (the daemons' last log lines, say), and it may mend what the
# case left broken so that one failure does not fail the cases after it. `after_case`, if defined,
# runs after every case, passed or failed: the suite's teardown (what a failed case left running).
PASSED=0
FAILED=0
FAILED_NAMES=()

t() {
    local name=$1; shift
    case $name in *"${T_ONLY:-}"*) ;; *) return 0 ;; esac
    local out rc
    out=$( { set -e; "$@"; } 2>&1 ); rc=$?
    if [ $rc -eq 0 ]; then
        PASSED=$((PASSED + 1)); echo "ok - $name"
    else
        FAILED=$((FAILED + 1)); FAILED_NAMES+=("$name"); echo "not ok - $name"
        echo "$out" | tail -25 | sed 's/^/    # /'
        if declare -F after_failure >/dev/null; then after_failure 2>&1 | sed 's/^/    # /'; fi
    fi
    if declare -F after_case >/dev/null; then after_case >/dev/null 2>&1; fi
    return 0
}

summary() {
    [ $FAILED -gt 0 ] && printf 'failed: %s\n' "${FAILED_NAMES[@]}"
    echo "$PASSED passed, $FAILED failed"
    [ $FAILED -eq 0 ]
}

fail() { echo "FAIL: $*" >&2; return 1; }
assert_eq() { [ "$1" = "$2" ] || fail "expected [$2], got [$1] ${3:-}"; }
assert_ne() { [ "$1" != "$2" ] || fail "expected something other than [$2] ${3:-}"; }
assert_contains() { case "$1" in *"$2"*) ;; *) fail "expected [$1] to contain [$2] ${3:-}";; esac; }
assert_not_contains() { case "$1" in *"$2"*) fail "expected [$1] not to contain [$2] ${3:-}";; esac; }

# Polls a condition for up to $2 seconds (default 10).
eventually() {
    local cond=$1 secs=${2:-10} i
    for i in $(seq 1 $((secs * 10))); do eval "$cond" && return 0; sleep 0.1; done
    fail "condition never held: $cond"
}

# Nothing of a deleted container may remain: mounts, cgroups, runtime state, staging, id range, processes.
assert_no_leftovers() {
    local id=$1 state_root=${2:-}
    local m; m=$(grep -c "$id" /proc/self/mountinfo || true)
    [ "$m" -eq 0 ] || fail "$m mounts of $id remain: $(grep "$id" /proc/self/mountinfo | head -3)"
    local cg; cg=$(find /sys/fs/cgroup -maxdepth 4 -type d -name "*$id*" 2>/dev/null | head -3 || true)
    [ -z "$cg" ] || fail "cgroups of $id remain: $cg"
    [ ! -e "/run/sysbox-staging/$id" ] || fail "staging dir of $id remains"
    if [ -n "$state_root" ]; then [ ! -e "$state_root/$id" ] || fail "state dir $state_root/$id remains"; fi
    if sysbox-mgr status 2>/dev/null | grep -q "^$id"; then fail "id range of $id still allocated"; fi
    if grep -q "\"id\":\"$id\"" /var/lib/sysbox/network.json 2>/dev/null; then fail "network lease of $id remains"; fi
    [ ! -e "/var/lib/sysboxfs/$id" ] || fail "virtual files of $id remain in /var/lib/sysboxfs"
    if sysbox-fs status 2>/dev/null | grep -q "^$id"; then fail "sysbox-fs still serves $id"; fi
    # Zombies are exited processes waiting for their parent to reap them (containerd's shim does).
    # A killed process may still be on its way out for a moment: 5 s, then it is a leftover.
    local f pid live="" try
    for try in $(seq 1 50); do
        live=""
        for f in $(grep -l "$id" /proc/[0-9]*/cgroup 2>/dev/null || true); do
            pid=${f#/proc/}; pid=${pid%/cgroup}
            [ "$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)" = Z ] || live="$live $pid"
        done
        [ -n "$live" ] || break
        sleep 0.1
    done
    [ -z "$live" ] || fail "processes of $id remain:$live ($(for pid in $live; do tr '\0' ' ' < /proc/$pid/cmdline 2>/dev/null; awk '{print " state " $3}' /proc/$pid/stat 2>/dev/null; done))"
}

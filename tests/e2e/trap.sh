# Trapped syscalls answered by sysbox-mgr: hostname, policies, the live trace, no leaked listeners.

mgr_fds() { ls "/proc/$(cat "$SYSBOXD_STATE/mgr.pid")/fd" | wc -l; }

test_hostname_trapped_and_traced() {
    local trace; trace=$(mktemp)
    sysbox-mgr trace --json --syscall sethostname > "$trace" 2>&1 & local tp=$!
    sleep 0.3
    local before; before=$(mgr_fds)
    local out; out=$(drun --rm --name e2e-host $IMG sh -c 'hostname inner-name && hostname')
    assert_eq "$out" "inner-name"
    assert_ne "$(hostname)" "inner-name" "the host's hostname changed"
    eventually 'grep -q inner-name "$trace"' 5
    local line; line=$(grep inner-name "$trace" | head -1)
    assert_eq "$(echo "$line" | jq -r .syscall)" "sethostname"
    assert_eq "$(echo "$line" | jq -r .verdict)" "continued"
    kill $tp; wait $tp 2>/dev/null || true
    rm -f "$trace"
    # The listener of the container is closed once its processes are gone (the trace socket too).
    eventually '[ "$(mgr_fds)" -le "$before" ]' 5
}

test_locked_hostname_policy() {
    local out; out=$(drun --rm -e SYSBOX_POLICY=locked-hostname $IMG sh -c 'hostname blocked 2>&1; echo rc=$?; hostname')
    assert_contains "$out" "Operation not permitted"
    assert_contains "$out" "rc=1"
    assert_not_contains "$out" "blocked
"
}

test_exec_is_trapped_too() {
    drun -d --name e2e-exectrap -e SYSBOX_POLICY=locked-hostname $IMG sleep 1000 >/dev/null
    set +e; local out; out=$(docker exec e2e-exectrap hostname other 2>&1); local rc=$?; set -e
    assert_ne "$rc" "0"
    assert_contains "$out" "Operation not permitted"
    rmc e2e-exectrap
}

test_unknown_policy_is_one_error() {
    set +e; local out; out=$(drun --rm -e SYSBOX_POLICY=no-such-policy $IMG true 2>&1); local rc=$?; set -e
    [ $rc -ne 0 ] || fail "an unknown policy was accepted"
    assert_contains "$out" "policy \"no-such-policy\" not found"
}

t "sethostname is trapped, works inside, and show in sysbox-mgr trace" test_hostname_trapped_and_traced
t "a policy can lock the hostname (EPERM)" test_locked_hostname_policy
t "docker exec processes get the same trap rules" test_exec_is_trapped_too
t "an unknown policy name fails docker run with one line" test_unknown_policy_is_one_error

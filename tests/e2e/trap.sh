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

test_many_trapped_calls_in_a_row() {
    # Every notification after the first reuses the receive buffer: the listener must keep serving.
    local out; out=$(drun --rm $IMG sh -c 'i=0; while [ $i -lt 300 ]; do hostname "h$i" || exit 1; i=$((i+1)); done; hostname')
    assert_eq "$out" "h299"
}

test_ten_containers_trap_concurrently() {
    local i pids=() dir; dir=$(mktemp -d)
    for i in $(seq 1 10); do
        drun --rm --name "e2e-conc$i" $IMG sh -c "i=0; while [ \$i -lt 100 ]; do hostname c$i-\$i || exit 1; i=\$((i+1)); done; hostname" > "$dir/$i" 2>&1 &
        pids+=($!)
    done
    for i in $(seq 1 10); do wait "${pids[$((i-1))]}" || fail "container $i failed: $(cat "$dir/$i")"; done
    for i in $(seq 1 10); do assert_eq "$(cat "$dir/$i")" "c$i-99"; done
    rm -rf "$dir"
}

test_protected_mounts_stay() {
    local out; out=$(drun --rm $IMG sh -c '
        for m in /proc /sys /proc/keys /sys/firmware /; do umount "$m" 2>/dev/null; echo "$m=$?"; done
        cd /proc && umount keys 2>/dev/null; echo relative=$?
        chroot / umount /proc/keys 2>/dev/null; echo chroot=$?
        umount -l /proc/keys 2>/dev/null; echo detach=$?
        mkdir /m && mount -t tmpfs t /m && umount /m && echo own=0
        grep -c " /proc/keys " /proc/self/mountinfo')
    local m; for m in /proc /sys /proc/keys /sys/firmware / relative chroot detach; do assert_contains "$out" "$m=1"; done
    assert_contains "$out" "own=0"
    assert_eq "$(echo "$out" | tail -1)" "1" "the mask over /proc/keys is gone"
}

t "sethostname is trapped, works inside, and show in sysbox-mgr trace" test_hostname_trapped_and_traced
t "umount2 cannot remove /, /proc, /sys or the masks over their files" test_protected_mounts_stay
t "300 trapped calls in a row are all answered" test_many_trapped_calls_in_a_row
t "10 containers trapping at once each get their own answers" test_ten_containers_trap_concurrently
t "a policy can lock the hostname (EPERM)" test_locked_hostname_policy
t "docker exec processes get the same trap rules" test_exec_is_trapped_too
t "an unknown policy name fails docker run with one line" test_unknown_policy_is_one_error

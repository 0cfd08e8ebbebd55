# A runtime error reaches `docker run` as one line naming what, where and the fix.

test_mgr_down_error() {
    local pidfile=$SYSBOXD_STATE/mgr.pid
    kill -TERM "$(cat "$pidfile")"; eventually '[ ! -S "$MGR_SOCK" ]'
    set +e; local out; out=$(drun --rm $IMG true 2>&1); local rc=$?; set -e
    bash ../../scripts/daemons.sh start >/dev/null
    [ $rc -ne 0 ] || fail "ran without sysbox-mgr"
    assert_contains "$out" "sysbox-mgr"
    assert_contains "$out" "start it"
}

t "without sysbox-mgr, docker run says so and how to fix it" test_mgr_down_error

# A runtime error reaches `docker run` as one line naming what, where and the fix.

test_mgr_down_error() {
    kill_daemon mgr TERM
    set +e; local out; out=$(drun --rm $IMG true 2>&1); local rc=$?; set -e
    bash ../../scripts/daemons.sh start >/dev/null
    [ $rc -ne 0 ] || fail "ran without sysbox-mgr"
    assert_contains "$out" "sysbox-mgr"
    assert_contains "$out" "start it"
}

t "without sysbox-mgr, docker run says so and how to fix it" test_mgr_down_error

# The host's namespaces are refused with one line naming the flag; --privileged is accepted and
# stays contained (docs/usage.md says why).
test_host_namespace_flags_refused() {
    local flag ns out
    for flag in --net=host --pid=host --ipc=host --uts=host; do
        ns=${flag#--}; ns=${ns%=host}; [ "$ns" = net ] && ns=network
        out=$(drun --rm $flag "$IMG" true 2>&1) && fail "$flag was accepted"
        assert_contains "$out" "system containers need their own $ns namespace"
        assert_contains "$out" "remove $flag"
        [ "$(grep -c . <<< "$(grep -i 'error' <<< "$out")")" -le 2 ] || fail "more than one error line: $out"
    done
    assert_eq "$(docker ps -aq --filter name=e2e- | wc -l)" "0"
}

test_privileged_is_contained() {
    local out; out=$(drun --rm --privileged "$IMG" sh -c '
        awk "{print \$2}" /proc/self/uid_map
        for d in /dev/vda /dev/sda /dev/nvme0n1 /dev/mem /dev/port; do [ -e $d ] && { head -c1 $d >/dev/null 2>&1 && echo "$d readable" || echo "$d refused"; }; done
        echo 1 > /proc/sysrq-trigger 2>/dev/null && echo sysrq-written
        echo 1 > /sys/kernel/mm/ksm/run 2>/dev/null && echo ksm-written
        cat /proc/kcore >/dev/null 2>&1 && echo kcore-read
        true')
    assert_ne "$(echo "$out" | head -1)" "0" "container root is host root"
    assert_not_contains "$out" "readable"
    assert_not_contains "$out" "written"
    assert_not_contains "$out" "kcore-read"
}

t "--net/--pid/--ipc/--uts=host are refused with one line naming the flag" test_host_namespace_flags_refused
t "--privileged runs, contained: no host device, knob or kernel memory" test_privileged_is_contained

# The host is a shared place: another runtime's container without a mount namespace of its own
# can make sysbox-fs's mount root private, and then new containers would not see their virtual files.
shared_root() { grep " /var/lib/sysboxfs " /proc/self/mountinfo | head -1 | grep -c "shared:" || true; }

test_lost_propagation_is_healed_by_create() {
    local i out
    for i in $(seq 1 10); do
        mount --make-private /var/lib/sysboxfs
        out=$(drun --rm $IMG sh -c 'stat -f -c %t /proc/meminfo' 2>&1) || fail "create $i failed after the mount root was made private: $out"
        assert_eq "$out" "65735546" "create $i: the virtual meminfo"
    done
    assert_eq "$(shared_root)" "1"
}

test_lost_propagation_is_healed_by_sysbox_fs() {
    local before; before=$(grep -c "lost its shared propagation" "$SYSBOXD_STATE/sysbox-fs.log" || true)
    mount --make-private /var/lib/sysboxfs
    assert_eq "$(shared_root)" "0"
    eventually '[ "$(shared_root)" = 1 ]' 5
    eventually '[ "$(grep -c "lost its shared propagation" "$SYSBOXD_STATE/sysbox-fs.log")" -gt "$before" ]' 5
}

t "a mount root made private under the stack: the next 10 creates still get their virtual files" test_lost_propagation_is_healed_by_create
t "a mount root made private under the stack: sysbox-fs makes it shared again and says so" test_lost_propagation_is_healed_by_sysbox_fs

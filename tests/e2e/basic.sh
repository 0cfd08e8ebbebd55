# Output, exit codes, env, workdir, hostname, tty.

test_output() { assert_eq "$(drun --rm $IMG echo hi)" "hi"; }

test_exit_code() {
    set +e; drun --rm $IMG sh -c 'exit 7'; local rc=$?; set -e
    assert_eq "$rc" "7"
}

test_command_not_found() {
    set +e; local out; out=$(drun --rm $IMG no-such-command 2>&1); local rc=$?; set -e
    assert_eq "$rc" "127" "$out"
    assert_contains "$out" "executable file not found"
}

test_env_workdir_hostname() {
    local out; out=$(drun --rm -e FOO=bar -w /tmp --hostname box1 $IMG sh -c 'echo $FOO $(pwd) $(hostname)')
    assert_eq "$out" "bar /tmp box1"
}

test_tty() {
    local out; out=$(drun --rm -t $IMG sh -c 'tty; test -t 0 && echo isatty' | tr -d '\r')
    assert_contains "$out" "/dev/pts/0"
    assert_contains "$out" "isatty"
}

test_interactive_tty() {
    local out; out=$(printf 'echo inside-$((40+2))\nexit\n' | script -qec "docker run --runtime=$RT --pull=never --rm -it $IMG sh" /dev/null | tr -d '\r')
    assert_contains "$out" "inside-42"
}

test_read_only() {
    local out; out=$(drun --rm --read-only --tmpfs /tmp $IMG sh -c 'touch /x 2>&1 || echo denied; touch /tmp/y && echo tmp-ok')
    assert_contains "$out" "denied"
    assert_contains "$out" "tmp-ok"
}

test_bind_mount() {
    local d; d=$(mktemp -d)
    echo hello > "$d/f"; chown 1000:1000 "$d/f"
    local out; out=$(drun --rm -v "$d:/mnt" $IMG sh -c 'cat /mnt/f; stat -c "%u:%g" /mnt/f; echo made > /mnt/new')
    assert_contains "$out" "hello"
    assert_contains "$out" "1000:1000"
    assert_eq "$(cat "$d/new")" "made"
    assert_eq "$(stat -c %u "$d/new")" "0" "file written by container root is owned by host root through the id-mapped bind"
    rm -rf "$d"
}

test_network() {
    local out; out=$(drun --rm $IMG sh -c 'ip -4 addr show eth0; ip route')
    assert_contains "$out" "inet 172."
    assert_contains "$out" "default via"
}

test_chown_mode() {
    local out; out=$(drun --rm -e SYSBOX_ROOTFS_SHIFT=chown $IMG sh -c 'stat -c %u:%g /bin/busybox; touch /x && echo wrote')
    assert_contains "$out" "0:0"
    assert_contains "$out" "wrote"
}


test_uptime_counts_from_container_start() {
    drun -d --name e2e-up $IMG sleep 1000 >/dev/null
    local inside host; inside=$(docker exec e2e-up cut -d' ' -f1 /proc/uptime); host=$(cut -d' ' -f1 /proc/uptime)
    # Just started: seconds, not the host's uptime (its own time namespace, boot time = start).
    [ "${inside%.*}" -lt 60 ] || fail "uptime inside is $inside s right after start"
    [ "${host%.*}" -gt 90 ] || fail "the host is up only $host s: cannot tell the two apart"
    # docker exec joins the same time namespace; busybox uptime uses sysinfo(2), also namespaced.
    assert_contains "$(docker exec e2e-up uptime)" "up 0 min"
    rmc e2e-up
}

# The capability sets of /proc/self/status, as "Eff Bnd" in hex.
caps_of() { drun --rm "$@" "$IMG" sh -c 'echo $(grep CapEff /proc/self/status | cut -f2) $(grep CapBnd /proc/self/status | cut -f2)'; }

test_capabilities_as_asked() {
    local all; all=$(printf '%016x' $(( (1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1 )))
    # Root of a system container has every capability of its user namespace...
    assert_eq "$(caps_of)" "$all $all"
    # ...but those dropped (NET_RAW is 13, MKNOD 27); an added one is there already.
    local dropped; dropped=$(printf '%016x' $(( 0x$all & ~(1 << 13) & ~(1 << 27) )))
    assert_eq "$(caps_of --cap-drop NET_RAW --cap-drop MKNOD)" "$dropped $dropped"
    assert_eq "$(caps_of --cap-add NET_ADMIN)" "$all $all"
    # An exec'd process keeps the container's drops.
    drun -d --name e2e-caps --cap-drop NET_RAW "$IMG" sleep 1000 >/dev/null
    local one; one=$(printf '%016x' $(( 0x$all & ~(1 << 13) )))
    assert_eq "$(docker exec e2e-caps sh -c 'grep CapBnd /proc/self/status | cut -f2')" "$one"
    rmc e2e-caps
    # SYSBOX_CAPABILITIES=spec: the spec's sets as runc applies them (Docker's default set).
    assert_eq "$(caps_of -e SYSBOX_CAPABILITIES=spec)" "00000000a80425fb 00000000a80425fb"
    assert_eq "$(caps_of -e SYSBOX_CAPABILITIES=spec --cap-drop ALL --cap-add KILL)" "0000000000000020 0000000000000020"
    # A non-root user gets no effective capabilities, as under runc; the bounding set holds.
    assert_eq "$(caps_of --user 1000 -e SYSBOX_CAPABILITIES=spec)" "0000000000000000 00000000a80425fb"
    # A mode that does not exist: one line, and no container.
    local err; err=$(drun --rm -e SYSBOX_CAPABILITIES=some "$IMG" true 2>&1) && fail "an unknown mode was accepted"
    assert_contains "$err" "SYSBOX_CAPABILITIES=some is not a capability mode"
}

t "docker run prints the command's output" test_output
t "the default bridge network is set up (prestart hooks run)" test_network
t "SYSBOX_ROOTFS_SHIFT=chown gives root-owned, writable files too" test_chown_mode
t "exit code is propagated" test_exit_code
t "missing command: exit 127 and runc's message" test_command_not_found
t "-e, -w and --hostname" test_env_workdir_hostname
t "-t gives a terminal" test_tty
t "-it interactive shell" test_interactive_tty
t "--read-only rootfs with a writable tmpfs" test_read_only
t "-v bind mount shows host owners shifted" test_bind_mount
t "uptime counts from the container's start, in exec too" test_uptime_counts_from_container_start
t "capabilities as asked: all for root, minus --cap-drop; SYSBOX_CAPABILITIES=spec as runc" test_capabilities_as_asked

# What makes it a system container: root in its own exclusive id range, full caps of its namespace.

test_root_in_userns() {
    local out; out=$(drun --rm $IMG sh -c 'id -u; cat /proc/self/uid_map; grep CapEff /proc/self/status; ls -ln /bin/busybox; touch /newfile && echo wrote')
    assert_contains "$out" "wrote"
    local map; map=$(echo "$out" | sed -n 2p | awk '{print $1, $3}')
    assert_eq "$map" "0 65536"
    local start; start=$(echo "$out" | sed -n 2p | awk '{print $2}')
    assert_ne "$start" "0"
    local last; last=$(cat /proc/sys/kernel/cap_last_cap)
    assert_eq "$(echo "$out" | awk '/CapEff/ {print $2}')" "$(printf '%016x' $(( (1 << (last + 1)) - 1 )))"
    assert_contains "$(echo "$out" | grep busybox)" " 0        0 "
}

test_host_uid_is_range() {
    drun -d --name e2e-uid $IMG sleep 1000 >/dev/null
    local pid; pid=$(docker inspect -f '{{.State.Pid}}' e2e-uid)
    local start; start=$(docker exec e2e-uid cat /proc/self/uid_map | awk '{print $2}')
    assert_eq "$(ps -o uid= -p "$pid" | tr -d ' ')" "$start"
    rmc e2e-uid
}

test_disjoint_ranges() {
    drun -d --name e2e-a $IMG sleep 1000 >/dev/null
    drun -d --name e2e-b $IMG sleep 1000 >/dev/null
    local a b; a=$(docker exec e2e-a cat /proc/self/uid_map | awk '{print $2}'); b=$(docker exec e2e-b cat /proc/self/uid_map | awk '{print $2}')
    assert_ne "$a" "$b"
    [ $(( a > b ? a - b : b - a )) -ge 65536 ] || fail "ranges $a and $b overlap"
    rmc e2e-a; rmc e2e-b
}

test_runc_beside() {
    docker run -d --runtime=runc --pull=never --name e2e-runc $IMG sleep 1000 >/dev/null
    drun -d --name e2e-sys $IMG sleep 1000 >/dev/null
    assert_eq "$(docker exec e2e-runc cat /proc/self/uid_map | awk '{print $2}')" "0"
    assert_ne "$(docker exec e2e-sys cat /proc/self/uid_map | awk '{print $2}')" "0"
    docker rm -f e2e-runc >/dev/null; rmc e2e-sys
}

test_host_pid_refused() {
    set +e; local out; out=$(drun --rm --pid=host $IMG true 2>&1); local rc=$?; set -e
    [ $rc -ne 0 ] || fail "--pid=host was accepted"
    assert_contains "$out" "pid namespace"
    assert_contains "$out" "--pid=host"
}

t "root inside, 65536-id map, full capabilities, root-owned image files" test_root_in_userns
t "on the host the container runs as its range's first uid" test_host_uid_is_range
t "two system containers get disjoint id ranges" test_disjoint_ranges
t "runc containers run beside system containers" test_runc_beside
t "--pid=host is refused with one clear line" test_host_pid_refused

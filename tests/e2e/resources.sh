# Cgroup limits at run time and through docker update.

test_memory_cpus() {
    drun -d --name e2e-res --memory 100m --cpus 0.5 $IMG sleep 1000 >/dev/null
    assert_eq "$(docker exec e2e-res cat /sys/fs/cgroup/memory/memory.limit_in_bytes)" "104857600"
    assert_eq "$(docker exec e2e-res cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)" "50000"
    docker update --memory 64m --memory-swap 64m e2e-res >/dev/null
    assert_eq "$(docker exec e2e-res cat /sys/fs/cgroup/memory/memory.limit_in_bytes)" "67108864"
    # An update that names no memory leaves the memory limit alone.
    docker update --cpus 0.25 --pids-limit 30 e2e-res >/dev/null
    assert_eq "$(docker exec e2e-res cat /sys/fs/cgroup/memory/memory.limit_in_bytes)" "67108864"
    assert_eq "$(docker exec e2e-res cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)" "25000"
    assert_eq "$(docker exec e2e-res cat /sys/fs/cgroup/pids/pids.max)" "30"
    rmc e2e-res
}

test_cgroup_delegated() {
    local out; out=$(drun --rm $IMG sh -c 'mkdir /sys/fs/cgroup/memory/sub && echo made && rmdir /sys/fs/cgroup/memory/sub')
    assert_contains "$out" "made"
}

t "--memory and --cpus apply, docker update changes them" test_memory_cpus
t "the container's cgroup subtree is delegated to its root" test_cgroup_delegated

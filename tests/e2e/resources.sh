# Cgroup limits at run time and through docker update, read inside the container through the
# view it has: v1 on this kind of host, v2 on a pure v2 host (or when asked for).

# cg CONTAINER memory|cpu-quota|pids: the limit as the container's /sys/fs/cgroup shows it.
cg() {
    docker exec "$1" sh -c '
        if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
            case $0 in memory) cat /sys/fs/cgroup/memory.max ;; cpu-quota) cut -d" " -f1 /sys/fs/cgroup/cpu.max ;; pids) cat /sys/fs/cgroup/pids.max ;; esac
        else
            case $0 in memory) cat /sys/fs/cgroup/memory/memory.limit_in_bytes ;; cpu-quota) cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us ;; pids) cat /sys/fs/cgroup/pids/pids.max ;; esac
        fi' "$2"
}

test_memory_cpus() {
    drun -d --name e2e-res --memory 100m --cpus 0.5 $IMG sleep 1000 >/dev/null
    assert_eq "$(cg e2e-res memory)" "104857600"
    assert_eq "$(cg e2e-res cpu-quota)" "50000"
    docker update --memory 64m --memory-swap 64m e2e-res >/dev/null
    assert_eq "$(cg e2e-res memory)" "67108864"
    # An update that names no memory leaves the memory limit alone.
    docker update --cpus 0.25 --pids-limit 30 e2e-res >/dev/null
    assert_eq "$(cg e2e-res memory)" "67108864"
    assert_eq "$(cg e2e-res cpu-quota)" "25000"
    assert_eq "$(cg e2e-res pids)" "30"
    rmc e2e-res
}

test_cgroup_delegated() {
    local out; out=$(drun --rm $IMG sh -c '
        d=/sys/fs/cgroup/memory; [ -e /sys/fs/cgroup/cgroup.controllers ] && d=/sys/fs/cgroup
        mkdir $d/sub && echo made && rmdir $d/sub')
    assert_contains "$out" "made"
}

t "--memory and --cpus apply, docker update changes them" test_memory_cpus
t "the container's cgroup subtree is delegated to its root" test_cgroup_delegated

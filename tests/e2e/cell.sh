# What the matrix cell's settings do (docs/testing.md): scripts/test.sh exports SYSBOX_ROOTFS_SHIFT
# and SYSBOX_POLICY before it starts the daemons, so dockerd (and its containerd) pass them down to
# every sysbox-runc they run. These cases fail when a setting did not reach the runtime, so a cell
# cannot pass by testing the defaults; with nothing exported they check the defaults.

CELL_SHIFT=${SYSBOX_ROOTFS_SHIFT:-auto}
CELL_POLICY=${SYSBOX_POLICY:-default}

# chown copies every file of the image up into the container's own layer (docker diff lists it);
# id-mapped layers leave that layer empty.
test_cell_rootfs_shift() {
    drun -d --name e2e-cell-shift $IMG sleep 1000 >/dev/null
    local diff; diff=$(docker diff e2e-cell-shift)
    if [ "$CELL_SHIFT" = chown ]; then
        assert_contains "$diff" "C /bin" "(no copy-up: the chown shift did not apply)"
    else
        assert_not_contains "$diff" "/bin" "(files copied up: the rootfs was chowned, not id-mapped)"
    fi
    assert_eq "$(docker exec e2e-cell-shift stat -c %u:%g /bin/busybox)" "0:0"
    rmc e2e-cell-shift
}

# The policy's traps and hostname lock, seen from inside.
test_cell_policy() {
    local out; out=$(drun --rm -m 256m $IMG sh -c 'hostname cell-h 2>/dev/null && echo renamed; free -k | awk "/^Mem:/ {print \$2}"')
    local total; total=$(echo "$out" | tail -1)
    case $CELL_POLICY in
        no-traps)
            # sysinfo untrapped: the host's memory, not the container's limit.
            [ "$total" -gt 262144 ] || fail "sysinfo reports $total kB: trapped under no-traps"
            assert_contains "$out" "renamed" ;;
        locked-hostname)
            assert_eq "$total" "262144" "(sysinfo not trapped)"
            assert_not_contains "$out" "renamed" "(the hostname is not locked)" ;;
        *)
            assert_eq "$total" "262144" "(sysinfo not trapped)"
            assert_contains "$out" "renamed" ;;
    esac
}

t "cell: the rootfs shift is $CELL_SHIFT" test_cell_rootfs_shift
t "cell: the policy is $CELL_POLICY (its traps and hostname lock, seen from inside)" test_cell_policy

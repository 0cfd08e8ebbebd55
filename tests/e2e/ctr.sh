# containerd's own front end: `ctr run --runc-binary sysbox-runc`, against the containerd of the
# private dockerd, with no CNI (so sysbox-mgr's standalone network). The matrix runs it with each
# rootfs shift mode (docs/testing.md).

CTRF_ARGS="--address $DOCKER_EXEC/containerd/containerd.sock --namespace sysboxd-e2e-ctr"
ctrf() { ctr $CTRF_ARGS "$@"; }
CTRF_IMG=docker.io/$BUSYBOX_IMAGE
ctrf_run() { ctrf run --runtime io.containerd.runc.v2 --runc-binary "$(command -v sysbox-runc)" "$@"; }
ctrf_image() { ctrf image ls -q | grep -qx "$CTRF_IMG" || docker save "$BUSYBOX_IMAGE" | ctrf image import - >/dev/null; }
# Removes a ctr container and checks that nothing of it remains (containerd's container id is the
# runtime's).
ctrf_rm() {
    ctrf task rm -f "$1" >/dev/null 2>&1 || true
    ctrf container rm "$1" >/dev/null 2>&1 || true
    eventually "! grep -q $1 /proc/self/mountinfo" 10
    assert_no_leftovers "$1"
}

test_ctr_run_root_inside_a_range_outside() {
    ctrf_image
    local out; out=$(ctrf_run --rm "$CTRF_IMG" e2e-ctrf1 sh -c 'id -u; cat /proc/self/uid_map; stat -c %u:%g /bin/busybox; touch /x && echo wrote')
    assert_contains "$out" "wrote"
    assert_eq "$(echo "$out" | sed -n 1p)" "0"
    assert_eq "$(echo "$out" | sed -n 2p | awk '{print $1, $3}')" "0 65536"
    assert_ne "$(echo "$out" | sed -n 2p | awk '{print $2}')" "0" "container root is host root"
    assert_eq "$(echo "$out" | sed -n 3p)" "0:0"
    set +e; ctrf_run --rm "$CTRF_IMG" e2e-ctrf1 sh -c 'exit 9'; local rc=$?; set -e
    assert_eq "$rc" "9"
    ctrf_rm e2e-ctrf1
}

test_ctr_traps_virtual_files_network_and_cleanup() {
    ctrf_image
    ctrf_run -d --memory-limit 268435456 "$CTRF_IMG" e2e-ctrf2 sleep 1000 >/dev/null
    # The rootfs shift in force (the cell's, else id-mapped): chown copies the image's files up into
    # the snapshot's upper dir, id-mapped layers leave bin/ out of it.
    local upper; upper=$(grep "/e2e-ctrf2/rootfs " /proc/self/mountinfo | grep -o 'upperdir=[^,]*' | cut -d= -f2)
    [ -d "$upper" ] || fail "no overlay upper dir for e2e-ctrf2's rootfs"
    if [ "${SYSBOX_ROOTFS_SHIFT:-auto}" = chown ]; then
        [ -e "$upper/bin" ] || fail "chown shift: nothing was copied up"
    else
        [ ! -e "$upper/bin" ] || fail "id-mapped: the rootfs was chowned (bin/ copied up)"
    fi
    ctrf task exec --exec-id h e2e-ctrf2 hostname ctr-host
    assert_eq "$(ctrf task exec --exec-id h2 e2e-ctrf2 hostname)" "ctr-host"
    assert_eq "$(ctrf task exec --exec-id m e2e-ctrf2 head -1 /proc/meminfo | awk '{print $2}')" "262144"
    assert_eq "$(ctrf task exec --exec-id u e2e-ctrf2 cat /proc/uptime | awk '{print ($1 < 600)}')" "1"
    assert_contains "$(ctrf task exec --exec-id a e2e-ctrf2 ip -4 -o addr show eth0)" "10.77."
    assert_contains "$(sysbox-mgr status)" "e2e-ctrf2"
    ctrf_rm e2e-ctrf2
    local links; links=$(ip -br link | awk '{print $1}' | grep -E '^(sbx[0-9a-f]{12}|sysbox0)' || true)
    assert_eq "$links" ""
}

after_ctrf() { ctrf_rm e2e-ctrf1 >/dev/null 2>&1; ctrf_rm e2e-ctrf2 >/dev/null 2>&1; true; }

t "ctr run: root inside, a 65,536-id range outside, root-owned writable rootfs, exit code" test_ctr_run_root_inside_a_range_outside
t "ctr run -d: the rootfs shift, trapped hostname, virtual meminfo and uptime, standalone network; nothing left after rm" test_ctr_traps_virtual_files_network_and_cleanup
after_ctrf

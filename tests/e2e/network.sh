# The standalone network under the front ends: containerd's ctr with no CNI gets it; Docker keeps
# its own network (and --net=none its nothing), and sysbox-mgr holds no lease for its containers.

CTR_ARGS="--address $DOCKER_EXEC/containerd/containerd.sock --namespace sysboxd-e2e"
ctr_() { ctr $CTR_ARGS "$@"; }
CTR_IMG=docker.io/$BUSYBOX_IMAGE
ctr_run() { ctr_ run --runtime io.containerd.runc.v2 --runc-binary "$(command -v sysbox-runc)" "$@"; }

test_ctr_gets_the_network() {
    if ! ctr_ image ls -q | grep -qx "$CTR_IMG"; then docker save "$BUSYBOX_IMAGE" | ctr_ image import - >/dev/null; fi
    ctr_run -d "$CTR_IMG" e2e-ctr1 sleep 1000 >/dev/null
    local a; a=$(ctr_ task exec --exec-id a1 e2e-ctr1 ip -4 -o addr show eth0 | awk '{print $4}')
    assert_contains "$a" "10.77."
    assert_contains "$(sysbox-mgr status)" "$a on sysbox0"
    # A second one reaches the first, the bridge and the host.
    local out; out=$(ctr_run --rm "$CTR_IMG" e2e-ctr2 sh -c "ping -c1 -W2 ${a%/*} | grep received; ping -c1 -W2 10.77.0.1 | grep received")
    assert_eq "$(echo "$out" | grep -c '1 packets received')" "2" "$out"
    ctr_ task rm -f e2e-ctr1 >/dev/null
    ctr_ container rm e2e-ctr1
    eventually "! grep -q '\"id\":\"e2e-ctr' /var/lib/sysbox/network.json" 10
    local links; links=$(ip -br link | awk '{print $1}' | grep -E '^(sbx[0-9a-f]{12}|sysbox0)' || true)
    assert_eq "$links" ""
}

test_docker_keeps_its_own_network() {
    local out; out=$(drun --rm $IMG sh -c 'ip -4 -o addr show eth0; ip route')
    assert_contains "$out" "172.17."
    assert_not_contains "$out" "10.77."
    drun -d --name e2e-dnet $IMG sleep 1000 >/dev/null
    local id; id=$(docker inspect -f '{{.Id}}' e2e-dnet)
    assert_not_contains "$(cat /var/lib/sysbox/network.json)" "$id"
    rmc e2e-dnet
    assert_eq "$(drun --rm --net=none $IMG ls /sys/class/net | tr '\n' ' ')" "lo "
}

after_network() {
    ctr_ task rm -f e2e-ctr1 >/dev/null 2>&1; ctr_ container rm e2e-ctr1 e2e-ctr2 >/dev/null 2>&1 || true
}

t "containerd's ctr without CNI: the container gets sysbox-mgr's network, released after" test_ctr_gets_the_network
t "Docker: its own network and --net=none stay as they are, with no lease of sysbox-mgr" test_docker_keeps_its_own_network
after_network

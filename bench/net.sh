#!/usr/bin/env bash
# What the standalone network costs, all measured in one run:
# - the time it adds to `sysbox-runc create` of a busybox bundle: io.sysboxd.net=none against the
#   default bridge network, interleaved round by round (medians, and the difference);
# - the anchor: the same setup done by the CNI bridge + host-local plugins (Debian's
#   containernetworking-plugins, invoked directly: ADD into a fresh namespace, with ipMasq);
# - the throughput of a container's veth to the host against the host's own loopback (iperf3).
# Needs the daemons of scripts/daemons.sh; traffic stays on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROUNDS=${ROUNDS:-21}
CNI=/usr/lib/cni
[ -x $CNI/bridge ] || { echo "bench/net.sh: $CNI/bridge missing (apt-get install containernetworking-plugins)"; exit 1; }
work=$(mktemp -d /tmp/sysboxd-bench-net.XXXXXX)
root=/run/sysboxd-bench-net
cleanup() {
    for c in $(sysbox-runc --root $root list -q 2>/dev/null); do sysbox-runc --root $root delete -f "$c" >/dev/null 2>&1; done
    ip netns del sbxbench-cni 2>/dev/null || true
    ip link del cni-bench0 2>/dev/null || true
    rm -rf "$work" /var/lib/cni/networks/sbxbench
}
trap cleanup EXIT
mkdir -p "$work/b"
cp -a /var/lib/sysboxd-test/busybox "$work/b/rootfs"
(cd "$work/b" && sysbox-runc spec)
jq '.process.args = ["sleep","1000"] | .process.terminal = false' "$work/b/config.json" > "$work/c" && mv "$work/c" "$work/b/config.json"
jq '.annotations = {"io.sysboxd.net": "none"}' "$work/b/config.json" > "$work/none.json"
cp "$work/b/config.json" "$work/bridge.json"

ms() { echo "scale=3; ($2 - $1) / 1000000" | bc; }
create_ms() { # mode -> ms of `create`
    cp "$work/$1.json" "$work/b/config.json"
    local t0 t1
    t0=$(date +%s%N)
    sysbox-runc --root $root create --bundle "$work/b" "bench-$1" </dev/null >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    t1=$(date +%s%N)
    sysbox-runc --root $root delete -f "bench-$1" >/dev/null
    ms "$t0" "$t1"
}
conf='{"cniVersion":"1.0.0","name":"sbxbench","type":"bridge","bridge":"cni-bench0","isGateway":true,"ipMasq":true,
       "ipam":{"type":"host-local","subnet":"10.78.0.0/24","routes":[{"dst":"0.0.0.0/0"}]}}'
cni_ms() { # -> ms of the bridge plugin's ADD (veth, bridge, address, route, masquerade)
    ip netns add sbxbench-cni
    local t0 t1
    t0=$(date +%s%N)
    echo "$conf" | CNI_COMMAND=ADD CNI_CONTAINERID=bench CNI_NETNS=/run/netns/sbxbench-cni CNI_IFNAME=eth0 CNI_PATH=$CNI \
        $CNI/bridge >/dev/null
    t1=$(date +%s%N)
    echo "$conf" | CNI_COMMAND=DEL CNI_CONTAINERID=bench CNI_NETNS=/run/netns/sbxbench-cni CNI_IFNAME=eth0 CNI_PATH=$CNI \
        $CNI/bridge >/dev/null
    ip netns del sbxbench-cni
    ms "$t0" "$t1"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# A container kept running holds the bridge, as on a host with system containers: each measured
# create then adds its veth, address and rules to a bridge that exists.
cp "$work/bridge.json" "$work/b/config.json"
sysbox-runc --root $root run -d --bundle "$work/b" bench-keep </dev/null >/dev/null 2>&1
for w in 1 2; do create_ms none >/dev/null; create_ms bridge >/dev/null; cni_ms >/dev/null; done
none="" bridge="" cni="" diffs=""
for i in $(seq 1 "$ROUNDS"); do
    n=$(create_ms none); b=$(create_ms bridge)
    none+="$n "; bridge+="$b "; diffs+="$(echo "$b - $n" | bc -l) "; cni+="$(cni_ms) "
done
mn=$(echo "$none" | median); mb=$(echo "$bridge" | median); mc=$(echo "$cni" | median)
# The added time is the median of each round's difference (the pair ran back to back), steadier on
# a noisy machine than the difference of the two medians.
added=$(echo "$diffs" | median)
printf 'create, io.sysboxd.net=none: median %.1f ms over %d runs\n' "$mn" "$ROUNDS"
printf 'create, bridge network:      median %.1f ms\n' "$mb"
printf 'added by the network:        %.1f ms, median of the rounds'"'"' differences (goal: <= 3 ms)\n' "$added"
printf 'CNI bridge+host-local ADD:   median %.1f ms\n' "$mc"
printf 'ratio added/CNI:             %.2f (goal: <= 0.2)\n' "$(echo "$added / $mc" | bc -l)"

# Throughput: the host's iperf3 in the kept container's network namespace, to the bridge address,
# against the same over the host's loopback.
pid=$(sysbox-runc --root $root state bench-keep | jq -r .pid)
iperf3 -s -1 -B 10.77.0.1 -p 15201 >/dev/null 2>&1 & srv=$!
sleep 0.3
veth=$(nsenter --net=/proc/$pid/ns/net iperf3 -c 10.77.0.1 -p 15201 -t 3 -J | jq '.end.sum_received.bits_per_second')
wait $srv || true
iperf3 -s -1 -B 127.0.0.1 -p 15202 >/dev/null 2>&1 & srv=$!
sleep 0.3
lo=$(iperf3 -c 127.0.0.1 -p 15202 -t 3 -J | jq '.end.sum_received.bits_per_second')
wait $srv || true
printf 'throughput container->host over the veth: %.1f Gbit/s, host loopback: %.1f Gbit/s, ratio %.2f\n' \
    "$(echo "$veth / 1000000000" | bc -l)" "$(echo "$lo / 1000000000" | bc -l)" "$(echo "$veth / $lo" | bc -l)"

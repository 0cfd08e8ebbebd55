# System workloads: systemd as PID 1 and Docker (and containerd) inside, no --privileged. The
# cases run on Debian 12 (systemd 252, Docker 20.10: the host's cgroup v1 view), Debian 13 (systemd
# 257, Docker 26, runc 1.1.15: the v1 view too) and Debian unstable (systemd 258 or later, which
# refuses cgroup v1; Docker 28, containerd 2: a cgroup v2 view). SYSTEM_IMAGES picks releases
# (default "bookworm trixie sid"); SYSTEM_EXTRAS=0 leaves out the Kubernetes-node and ten-container
# cases (the matrix's cells run the per-image cases only).

SYS_IMG=$DEBIAN_IMAGE
INNER_TAR=${INNER_TAR:-/tmp/sysboxd-e2e-busybox.tar}
[ -s "$INNER_TAR" ] || docker save "$IMG" -o "$INNER_TAR"

# Starts a systemd system container and waits until systemd has finished booting.
boot() { # name [docker run options...]
    local name=$1; shift
    docker rm -f "$name" >/dev/null 2>&1 || true   # left by an earlier failed run
    drun -d --name "$name" "$@" "$SYS_IMG" >/dev/null
    eventually "docker exec $name systemctl is-system-running 2>/dev/null | grep -qE '^(running|degraded)$'" 90
}
inner_load() { docker exec -i "$1" docker load < "$INNER_TAR" >/dev/null; }

# The view a container of SYS_IMG gets at /sys/fs/cgroup: v2 when its systemd needs it.
expected_view() { if [ "$SYS_IMG" = "$SID_IMAGE" ]; then echo cgroup2fs; else echo tmpfs; fi; }

test_cgroup_view_follows_the_image() {
    boot e2e-view
    assert_eq "$(docker exec e2e-view stat -fc %T /sys/fs/cgroup)" "$(expected_view)"
    if [ "$(expected_view)" = cgroup2fs ]; then
        # A pure v2 view: the container's own cgroup as the root, delegated, systemd's tree below.
        assert_eq "$(docker exec e2e-view grep ^0:: /proc/1/cgroup)" "0::/init.scope"
        docker exec e2e-view test -w /sys/fs/cgroup/cgroup.subtree_control || fail "the v2 view is not delegated"
        assert_eq "$(docker exec e2e-view docker info -f '{{.CgroupVersion}}')" "2"
        # The host's v1 limits still hold from outside.
        local id f; id=$(cid e2e-view)
        docker update -m 256m --memory-swap 256m e2e-view >/dev/null
        f=$(find /sys/fs/cgroup -maxdepth 5 \( -name memory.limit_in_bytes -o -name memory.max \) -path "*$id*" | head -1)
        assert_eq "$(cat "$f")" "268435456"
    else
        assert_contains "$(docker exec e2e-view ls /sys/fs/cgroup)" "memory"
    fi
    # Asked for explicitly, the other view (v2 is there on this host beside v1).
    docker rm -f e2e-view2 >/dev/null 2>&1 || true
    local other=v2; [ "$(expected_view)" = cgroup2fs ] && other=v1
    drun -d --name e2e-view2 -e SYSBOX_CGROUP=$other "$SYS_IMG" sleep 1000 >/dev/null
    if [ $other = v2 ]; then
        assert_eq "$(docker exec e2e-view2 stat -fc %T /sys/fs/cgroup)" "cgroup2fs"
    else
        assert_eq "$(docker exec e2e-view2 stat -fc %T /sys/fs/cgroup)" "tmpfs"
    fi
    rmc e2e-view2
    rmc e2e-view
}

test_systemd_boots_running() {
    boot e2e-sd1
    assert_eq "$(docker exec e2e-sd1 systemctl is-system-running)" "running" "failed: $(docker exec e2e-sd1 systemctl --failed --no-legend)"
    assert_eq "$(docker exec e2e-sd1 cat /proc/1/comm)" "systemd"
    assert_contains "$(docker exec e2e-sd1 journalctl --no-pager -b)" "Startup finished"
    assert_contains "$(docker exec e2e-sd1 hostnamectl)" "Chassis: container"
    docker exec e2e-sd1 systemctl restart docker
    assert_eq "$(docker exec e2e-sd1 systemctl is-active docker)" "active"
    # Root inside, an unprivileged range outside, no host socket, not privileged.
    assert_eq "$(docker inspect -f '{{.HostConfig.Privileged}}' e2e-sd1)" "false"
    local map; map=$(docker exec e2e-sd1 cat /proc/1/uid_map | tr -s ' ')
    assert_ne "$(echo "$map" | awk '{print $2}')" "0" "container root is host root"
    assert_not_contains "$(docker exec e2e-sd1 cat /proc/self/mountinfo)" "docker.sock"
    # docker stop sends SIGRTMIN+3 (the image's stop signal): systemd halts by itself (it exits
    # 130 then), rather than being killed (137) when the timeout runs out.
    docker stop -t 60 e2e-sd1 >/dev/null
    assert_eq "$(docker inspect -f '{{.State.ExitCode}}' e2e-sd1)" "130"
    rmc e2e-sd1
}

test_inner_docker_overlay2_load_run_build() {
    boot e2e-dind
    assert_eq "$(docker exec e2e-dind docker info -f '{{.Driver}}')" "overlay2"
    inner_load e2e-dind
    assert_eq "$(docker exec e2e-dind docker run --rm "$IMG" echo inner-ok)" "inner-ok"
    docker exec e2e-dind docker run -d --name in1 "$IMG" sleep 1000 >/dev/null
    assert_eq "$(docker exec e2e-dind docker exec in1 cat /proc/1/cmdline | tr '\0' ' ')" "sleep 1000 "
    docker exec e2e-dind docker rm -f in1 >/dev/null
    docker exec e2e-dind sh -c "mkdir -p /b && printf 'FROM $IMG\nRUN echo built > /built\nCMD cat /built\n' > /b/Dockerfile"
    docker exec e2e-dind sh -c 'DOCKER_BUILDKIT=0 docker build -q -t inner-built /b >/dev/null 2>&1'
    assert_eq "$(docker exec e2e-dind docker run --rm inner-built)" "built"
    rmc e2e-dind
}

test_inner_privileged_stays_contained() {
    boot e2e-priv
    inner_load e2e-priv
    local before; before=$(cat /proc/sys/kernel/panic)
    local out; out=$(docker exec e2e-priv docker run --rm --privileged "$IMG" sh -c \
        'echo caps=$(grep CapEff /proc/self/status | cut -f2); echo 7 > /proc/sys/kernel/panic; cat /proc/*/comm
         echo 1 > /sys/kernel/mm/ksm/run && echo sys-written; true')
    local caps; caps=$(echo "$out" | sed -n 's/^caps=//p')
    assert_eq "$(( (0x$caps >> 21) & 1 ))" "1" "no CAP_SYS_ADMIN in the inner privileged container ($caps)"
    assert_eq "$(cat /proc/sys/kernel/panic)" "$before" "the host's kernel.panic changed"
    assert_not_contains "$out" "sys-written" "the inner privileged container wrote a host /sys value"
    assert_not_contains "$out" "dockerd" "the inner privileged container sees processes outside it"
    rmc e2e-priv
}

test_inner_data_lifecycle() {
    boot e2e-keep
    inner_load e2e-keep
    local id; id=$(cid e2e-keep)
    docker stop e2e-keep >/dev/null
    docker start e2e-keep >/dev/null
    eventually "docker exec e2e-keep docker images -q $IMG 2>/dev/null | grep -q ." 60
    # Another system container has its own, empty, inner Docker.
    boot e2e-other
    assert_eq "$(docker exec e2e-other docker images -q)" ""
    rmc e2e-other
    local dir=$DOCKER_DATA/containers/$id/sysbox-storage
    [ -d "$dir" ] || fail "no storage dir $dir"
    rmc e2e-keep
    [ ! -e "$dir" ] || fail "$dir remains after docker rm"
}

test_inner_containerd_ctr() {
    boot e2e-ctr
    docker exec -i e2e-ctr sh -c 'cat > /tmp/img.tar && ctr -n e2e image import /tmp/img.tar >/dev/null' < "$INNER_TAR"
    # ctr sets cpu shares (1024) unless told not to; the v2 view of this host has no cpu
    # controller to take them (its cgroup2 hierarchy has no controllers: docs/usage.md).
    local shares=""; [ "$(expected_view)" = cgroup2fs ] && shares="--cpu-shares 0"
    assert_eq "$(docker exec e2e-ctr ctr -n e2e run $shares --rm "docker.io/$IMG" c1 echo from-ctr)" "from-ctr"
    rmc e2e-ctr
}

# What a Kubernetes node (kubelet, kube-proxy, containerd) needs of the kernel view, as far as a
# machine with no image registry can show it: the knobs, rshared /, writable cgroups, and a pod:
# two containers of the inner containerd sharing one network namespace. (/dev/kmsg is absent:
# kubelet needs its KubeletInUserNamespace feature gate, docs/usage.md.)
test_kubernetes_node_prerequisites() {
    boot e2e-node
    local out; out=$(docker exec e2e-node sh -c '
        echo 131072 > /proc/sys/net/netfilter/nf_conntrack_max && echo conntrack-set
        echo 1 > /proc/sys/vm/overcommit_memory && echo overcommit-set
        echo 10 > /proc/sys/kernel/panic && echo 1 > /proc/sys/kernel/panic_on_oops && echo panic-set
        echo 1 > /proc/sys/net/ipv4/ip_forward && echo forward-set
        cat /proc/sys/net/bridge/bridge-nf-call-iptables >/dev/null 2>&1 && echo br-netfilter-visible
        mount --make-rshared / && echo rshared
        d=/sys/fs/cgroup/kubepods; [ -e /sys/fs/cgroup/cgroup.controllers ] || d=/sys/fs/cgroup/memory/kubepods
        mkdir $d && rmdir $d && echo cgroups-writable
        [ -d /lib/modules/$(uname -r) ] && echo modules-present
        true')
    for what in conntrack-set overcommit-set panic-set forward-set rshared cgroups-writable; do
        assert_contains "$out" "$what"
    done
    if [ -d "/proc/sys/net/bridge" ]; then assert_contains "$out" "br-netfilter-visible"; fi
    if [ -d "/lib/modules/$(uname -r)" ]; then assert_contains "$out" "modules-present"; fi
    # Private: the host keeps its own values.
    assert_ne "$(cat /proc/sys/kernel/panic)" "10" "kernel.panic reached the host"
    # A pod: the second container joins the first one's network namespace.
    docker exec -i e2e-node sh -c 'cat > /tmp/img.tar && ctr -n k8s.io image import /tmp/img.tar >/dev/null' < "$INNER_TAR"
    local shares=""; [ "$(expected_view)" = cgroup2fs ] && shares="--cpu-shares 0"
    docker exec e2e-node ctr -n k8s.io run -d $shares "docker.io/$IMG" pause sleep 1000 >/dev/null
    local pid; pid=$(docker exec e2e-node ctr -n k8s.io task ls | awk '$1 == "pause" {print $2}')
    [ -n "$pid" ] || fail "the pod's first container has no task"
    local first second
    first=$(docker exec e2e-node readlink /proc/$pid/ns/net)
    second=$(docker exec e2e-node ctr -n k8s.io run --rm $shares --with-ns "network:/proc/$pid/ns/net" "docker.io/$IMG" app readlink /proc/self/ns/net)
    assert_eq "$second" "$first" "the pod's containers do not share a network namespace"
    docker exec e2e-node ctr -n k8s.io task kill -s KILL pause >/dev/null 2>&1 || true
    rmc e2e-node
}

test_ten_system_containers_in_parallel() {
    local i pids=() dir; dir=$(mktemp -d)
    for i in $(seq 1 10); do drun -d --name "e2e-par$i" "$SYS_IMG" > "$dir/start$i" 2>&1 & pids+=($!); done
    for i in $(seq 1 10); do wait "${pids[$((i-1))]}" || fail "start $i: $(cat "$dir/start$i")"; done
    for i in $(seq 1 10); do
        eventually "docker exec e2e-par$i docker info >/dev/null 2>&1" 180
        inner_load "e2e-par$i"
        assert_eq "$(docker exec "e2e-par$i" docker run --rm "$IMG" echo "par$i")" "par$i"
    done
    # Ten disjoint id ranges.
    local starts; starts=$(for i in $(seq 1 10); do docker exec "e2e-par$i" awk '{print $2}' /proc/self/uid_map; done | sort -u | wc -l)
    assert_eq "$starts" "10"
    for i in $(seq 1 10); do rmc "e2e-par$i"; done
    rm -rf "$dir"
}

image_of() { case $1 in bookworm) echo "$DEBIAN_IMAGE" ;; trixie) echo "$TRIXIE_IMAGE" ;; sid) echo "$SID_IMAGE" ;; esac; }
for rel in ${SYSTEM_IMAGES:-bookworm trixie sid}; do
    SYS_IMG=$(image_of "$rel")
    [ -n "$SYS_IMG" ] || { t "[$rel] a known release (bookworm, trixie, sid)" false; continue; }
    t "[$rel] the cgroup view follows the image's systemd; SYSBOX_CGROUP asks for the other" test_cgroup_view_follows_the_image
    t "[$rel] systemd boots to running; journalctl, hostnamectl, restart docker; stop is a clean halt" test_systemd_boots_running
    t "[$rel] inner Docker on overlay2: load, run, run -d + exec, build" test_inner_docker_overlay2_load_run_build
    t "[$rel] inner --privileged container cannot change the host or see outside" test_inner_privileged_stays_contained
    t "[$rel] inner Docker data survives stop/start, is per container, gone after rm" test_inner_data_lifecycle
    t "[$rel] inner containerd: ctr imports and runs" test_inner_containerd_ctr
done
if [ "${SYSTEM_EXTRAS:-1}" = 1 ]; then
    SYS_IMG=$SID_IMAGE
    t "[sid] a Kubernetes node's view: knobs, rshared /, cgroups, a pod of two containers" test_kubernetes_node_prerequisites
    SYS_IMG=$DEBIAN_IMAGE
    t "ten system containers in parallel, each with a working inner Docker" test_ten_system_containers_in_parallel
fi

# A failed test leaves its containers: remove them so later runs and suites start clean.
docker ps -aq --filter name=e2e- | xargs -r docker rm -f >/dev/null

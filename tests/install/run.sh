#!/usr/bin/env bash
# The install test: the .deb on a real systemd host, as a user installs it. This machine's PID 1 is
# not systemd, so the test makes one: Debian 12 booted with systemd as PID 1 under runc
# (near-privileged: the capabilities this machine grants but CAP_SYS_TIME and CAP_SYS_MODULE, no
# seccomp, /dev/fuse, an ext4 directory of its own for /var/lib/docker), with docker.io from Debian
# and nothing installed from a mirror inside. The package is built first (scripts/package.sh, into
# dist/) unless $SYSBOXD_DEB names one.
#
# The harness (systemd_host_up, in_host, systemd_host_down) is what the CI matrix's "systemd host"
# cell reuses; SYSTEMD_HOST_KEEP=1 leaves the host running after the cases.
set -uo pipefail
cd "$(dirname "$0")"
. ../../scripts/env.sh
. ../lib.sh
STATE=/run/sysboxd-install
RUNC="runc --root $STATE"
HOST=sysboxd-install-host
BASE=/var/lib/sysboxd-test/install
DEB=${SYSBOXD_DEB:-}

in_host() { $RUNC exec "$HOST" "$@" </dev/null; }
in_host_i() { $RUNC exec "$HOST" "$@"; }

systemd_host_down() {
    $RUNC kill "$HOST" KILL >/dev/null 2>&1 || true
    $RUNC delete -f "$HOST" >/dev/null 2>&1 || true
    rm -rf "$BASE"
}

# Boots the host from the cached Debian rootfs (scripts/images.sh install-host).
systemd_host_up() {
    systemd_host_down
    local tarball; tarball=$(bash ../../scripts/images.sh install-host | tail -1)
    [ -s "$tarball" ] || fail "no rootfs tarball for the systemd host"
    mkdir -p "$BASE/rootfs" "$BASE/docker" "$BASE/in"
    tar -C "$BASE/rootfs" -xf "$tarball"
    cp "$DEB" "$BASE/in/sysboxd.deb"
    newer_deb "$DEB" "$BASE/in/sysboxd-newer.deb"
    cp ../../scripts/install-package.sh "$BASE/in/"
    docker save "$BUSYBOX_IMAGE" > "$BASE/in/busybox.tar"
    local caps='["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_DAC_READ_SEARCH","CAP_FOWNER","CAP_FSETID","CAP_KILL",
        "CAP_SETGID","CAP_SETUID","CAP_SETPCAP","CAP_LINUX_IMMUTABLE","CAP_NET_BIND_SERVICE","CAP_NET_BROADCAST",
        "CAP_NET_ADMIN","CAP_NET_RAW","CAP_IPC_LOCK","CAP_IPC_OWNER","CAP_SYS_RAWIO","CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE","CAP_SYS_PACCT","CAP_SYS_ADMIN","CAP_SYS_BOOT","CAP_SYS_NICE","CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD","CAP_LEASE","CAP_AUDIT_WRITE","CAP_AUDIT_CONTROL","CAP_SETFCAP","CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN","CAP_SYSLOG","CAP_WAKE_ALARM","CAP_BLOCK_SUSPEND","CAP_AUDIT_READ","CAP_PERFMON",
        "CAP_BPF","CAP_CHECKPOINT_RESTORE"]'
    (cd "$BASE" && runc spec)
    jq --argjson c "$caps" --arg docker "$BASE/docker" --arg in "$BASE/in" '
        .process.args = ["/sbin/init"] | .process.terminal = false
        | .process.env = ["container=docker", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        | .process.capabilities = {bounding: $c, effective: $c, permitted: $c} | .process.noNewPrivileges = false
        | .root.readonly = false | .hostname = "sysbox-host"
        | .linux.namespaces = [{type: "pid"}, {type: "mount"}, {type: "ipc"}, {type: "uts"}, {type: "network"}, {type: "cgroup"}]
        | .linux.maskedPaths = [] | .linux.readonlyPaths = []
        | .linux.resources = {devices: [{allow: true, access: "rwm"}]}
        | .linux.devices = [{path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0},
                            {path: "/dev/net/tun", type: "c", major: 10, minor: 200, fileMode: 438, uid: 0, gid: 0}]
        | .linux.cgroupsPath = "/sysboxd-install-host" | .linux.rootfsPropagation = "shared"
        | .mounts = [
            {destination: "/proc", type: "proc", source: "proc"},
            {destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]},
            {destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "rw"]},
            {destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "rw"]},
            {destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=755"]},
            {destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"]},
            {destination: "/var/lib/docker", type: "bind", source: $docker, options: ["rbind", "rw"]},
            {destination: "/mnt/in", type: "bind", source: $in, options: ["rbind", "ro"]}]' \
        "$BASE/config.json" > "$BASE/c.json" && mv "$BASE/c.json" "$BASE/config.json"
    $RUNC run -d --bundle "$BASE" "$HOST" </dev/null >"$BASE/run.log" 2>&1 || fail "runc run: $(cat "$BASE/run.log")"
    eventually "in_host systemctl is-system-running 2>/dev/null | grep -qE '^(running|degraded)$'" 120
    eventually "in_host docker info >/dev/null 2>&1" 60
    in_host_i docker load < "$BASE/in/busybox.tar" >/dev/null
}

# The same package under a higher version (<version>+1), so that dpkg takes the upgrade path of the
# maintainer scripts (prerm upgrade, postinst configure <old version>) as from an older release.
newer_deb() {
    local d; d=$(mktemp -d)
    dpkg-deb -R "$1" "$d/pkg"
    sed -i "s/^Version: \(.*\)/Version: \1+1/" "$d/pkg/DEBIAN/control"
    dpkg-deb -b "$d/pkg" "$2" >/dev/null
    rm -rf "$d"
}

# What a user's Docker config had before the package: restored byte for byte by remove.
USER_DAEMON_JSON='{
    "log-level": "warn",
    "features": { "buildkit": false }
}
'

install_deb() { in_host env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" /mnt/in/sysboxd.deb 2>&1; }
version() { in_host dpkg-query -W -f '${Version}' sysboxd; }

test_boot() {
    systemd_host_up
    assert_eq "$(in_host ps -o comm= -p 1)" "systemd"
    assert_contains "$(in_host docker info 2>/dev/null | grep 'Storage Driver')" "overlay2"
}

test_install() {
    in_host sh -c "mkdir -p /etc/docker && printf '%s' '$USER_DAEMON_JSON' > /etc/docker/daemon.json"
    in_host cp -p /etc/docker/daemon.json /root/daemon.json.before
    local out; out=$(install_deb) || fail "apt-get install failed: $(echo "$out" | tail -5)"
    local u; for u in sysbox sysbox-keep sysbox-mgr sysbox-fs docker; do
        assert_eq "$(in_host systemctl is-active "$u")" "active" "($u)"
        assert_eq "$(in_host systemctl is-enabled "$u")" "enabled" "($u)"
    done
    # The umbrella's status names both daemons with the pids their units run.
    local status; status=$(in_host systemctl status sysbox --no-pager)
    assert_contains "$status" "Active: active (running)"
    assert_contains "$status" "sysbox-mgr pid $(in_host systemctl show -p MainPID --value sysbox-mgr) ("
    assert_contains "$status" "sysbox-fs pid $(in_host systemctl show -p MainPID --value sysbox-fs) ("
    # A restarted daemon shows in it under its new pid.
    in_host systemctl restart sysbox-fs
    eventually "in_host systemctl status sysbox --no-pager | grep -q \"sysbox-fs pid \$(in_host systemctl show -p MainPID --value sysbox-fs) (\"" 20
    assert_eq "$(in_host systemd-analyze verify /lib/systemd/system/sysbox.service /lib/systemd/system/sysbox-mgr.service \
        /lib/systemd/system/sysbox-fs.service /lib/systemd/system/sysbox-keep.service 2>&1)" ""
    # Docker: the runtime is there, the user's keys too, and a system container has its own range.
    assert_contains "$(in_host docker info 2>/dev/null | grep Runtimes)" "sysbox-runc"
    assert_eq "$(in_host jq -r '."log-level"' /etc/docker/daemon.json)" "warn"
    local map; map=$(in_host docker run --runtime=sysbox-runc --rm --pull=never "$BUSYBOX_IMAGE" cat /proc/self/uid_map)
    assert_eq "$(echo "$map" | awk '{print $1, $3}')" "0 65536"
    [ "$(echo "$map" | awk '{print $2}')" -ge 65536 ] || fail "the range starts at host uid $(echo "$map" | awk '{print $2}')"
    # What came with it: policies as conffiles, manual pages, completions.
    assert_contains "$(in_host dpkg-query -W -f '${Conffiles}' sysboxd)" "/etc/sysbox/policies/default.json"
    local f; for f in /usr/share/man/man1/sysbox-runc.1.gz /usr/share/man/man1/sysbox-mgr.1.gz /usr/share/man/man1/sysbox-fs.1.gz \
        /usr/share/bash-completion/completions/sysbox-runc /usr/share/zsh/vendor-completions/_sysbox-mgr; do
        in_host test -s "$f" || fail "$f missing"
    done
    assert_contains "$(in_host man -P cat sysbox-runc 2>/dev/null)" "sysbox-runc"
    # Installing again changes nothing in daemon.json.
    in_host cp -p /etc/docker/daemon.json /root/daemon.json.installed
    install_deb --reinstall >/dev/null || fail "a second install failed"
    in_host cmp /etc/docker/daemon.json /root/daemon.json.installed || fail "a second install changed daemon.json"
}

# Installs (apt-get install ${@:2}) over the running package under a running system container: it
# runs on, the daemons were restarted (sysbox-keep was not), its traps and virtual files answer.
upgrade_under_container() {
    local label=$1; shift
    local keep mgr; keep=$(in_host systemctl show -p MainPID --value sysbox-keep); mgr=$(in_host systemctl show -p MainPID --value sysbox-mgr)
    local before; before=$(in_host md5sum /etc/docker/daemon.json /etc/subuid /etc/subgid)
    local out; out=$(in_host env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" 2>&1) || fail "the upgrade failed: $(echo "$out" | tail -5)"
    assert_eq "$(in_host docker inspect -f '{{.State.Running}}' sc)" "true"
    assert_ne "$(in_host systemctl show -p MainPID --value sysbox-mgr)" "$mgr" "(sysbox-mgr was restarted onto the new binary)"
    assert_eq "$(in_host systemctl show -p MainPID --value sysbox-keep)" "$keep" "(sysbox-keep was not restarted)"
    assert_eq "$(in_host md5sum /etc/docker/daemon.json /etc/subuid /etc/subgid)" "$before" "(the upgrade changed daemon.json or the subid files)"
    local u; for u in sysbox sysbox-keep sysbox-mgr sysbox-fs; do
        assert_eq "$(in_host systemctl is-active "$u")" "active" "($u after the upgrade)"
    done
    # Its trapped calls and virtual files still answer.
    in_host docker exec sc hostname "after-$label"
    assert_eq "$(in_host docker exec sc hostname)" "after-$label"
    assert_contains "$(in_host docker exec sc head -1 /proc/meminfo)" "MemTotal"
    assert_contains "$(in_host docker exec sc cat /proc/self/uid_map)" "65536"
}

test_upgrade_keeps_containers() {
    in_host docker run -d --runtime=sysbox-runc --pull=never --name sc "$BUSYBOX_IMAGE" sleep 100000 >/dev/null
    local v; v=$(version)
    upgrade_under_container reinstall --reinstall /mnt/in/sysboxd.deb
    assert_eq "$(version)" "$v"
    # A newer version: dpkg's upgrade path (postinst configure <old version>).
    upgrade_under_container newer /mnt/in/sysboxd-newer.deb
    assert_eq "$(version)" "$v+1"
    assert_eq "$(in_host docker run --runtime=sysbox-runc --rm --pull=never "$BUSYBOX_IMAGE" echo new-ok)" "new-ok"
}

test_remove_and_purge() {
    local out
    out=$(in_host env DEBIAN_FRONTEND=noninteractive apt-get remove -y sysboxd 2>&1) && fail "remove went on with a running system container"
    assert_contains "$out" "still registered"
    assert_eq "$(in_host systemctl is-active sysbox-mgr)" "active"
    in_host docker rm -f sc >/dev/null
    out=$(in_host env DEBIAN_FRONTEND=noninteractive apt-get remove -y sysboxd 2>&1) || fail "remove failed: $(echo "$out" | tail -5)"
    local u; for u in sysbox sysbox-keep sysbox-mgr sysbox-fs; do
        assert_ne "$(in_host systemctl is-active "$u")" "active" "($u)"
    done
    in_host cmp /etc/docker/daemon.json /root/daemon.json.before || fail "daemon.json differs after remove"
    # Docker was reloaded, not restarted: 20.10 keeps a runtime that a reload's file no longer names
    # (it only takes keys the file has) until its next restart; its log shows the reload.
    assert_contains "$(in_host journalctl -u docker --no-pager | tail -3)" "Reloaded docker.service"
    assert_eq "$(in_host docker run --rm --pull=never "$BUSYBOX_IMAGE" echo runc-ok)" "runc-ok"
    in_host test -d /var/lib/sysbox || fail "remove took the data (only purge should)"
    out=$(in_host env DEBIAN_FRONTEND=noninteractive apt-get purge -y sysboxd 2>&1) || fail "purge failed: $(echo "$out" | tail -5)"
    in_host cmp /etc/docker/daemon.json /root/daemon.json.before || fail "daemon.json differs after purge"
    local p; for p in /var/lib/sysbox /etc/sysbox /lib/systemd/system/sysbox.service /usr/bin/sysbox-runc /var/log/sysbox-mgr.log; do
        in_host test ! -e "$p" || fail "$p remains after purge"
    done
    if in_host grep -q '^sysbox:' /etc/subuid /etc/subgid; then fail "the sysbox subid entries remain after purge"; fi
    if in_host dpkg -s sysboxd >/dev/null 2>&1; then fail "dpkg still lists sysboxd after purge"; fi
}

test_without_daemon_json() {
    in_host rm -f /etc/docker/daemon.json
    install_deb >/dev/null || fail "install failed"
    assert_eq "$(in_host jq -r '.runtimes."sysbox-runc".path' /etc/docker/daemon.json)" "/usr/bin/sysbox-runc"
    assert_eq "$(in_host docker run --runtime=sysbox-runc --rm --pull=never "$BUSYBOX_IMAGE" echo sys-ok)" "sys-ok"
    in_host env DEBIAN_FRONTEND=noninteractive apt-get purge -y sysboxd >/dev/null 2>&1 || fail "purge failed"
    in_host test ! -e /etc/docker/daemon.json || fail "daemon.json made by the install remains after purge"
}

# The systemd path of the README's first command installs with scripts/install-package.sh.
test_setup_path_install() {
    local out; out=$(in_host bash /mnt/in/install-package.sh /mnt/in/sysboxd.deb 2>&1) || fail "install-package.sh: $out"
    assert_contains "$out" "sysbox.service active; Docker's runtimes: "
    assert_contains "$out" "sysbox-runc"
    in_host env DEBIAN_FRONTEND=noninteractive apt-get purge -y sysboxd >/dev/null 2>&1 || fail "purge failed"
}

test_invalid_daemon_json_untouched() {
    in_host sh -c 'printf "{ \"log-level\": warn\n" > /etc/docker/daemon.json && cp -p /etc/docker/daemon.json /root/daemon.json.bad'
    local out; out=$(install_deb) || fail "install failed: $(echo "$out" | tail -5)"
    assert_contains "$out" "is not valid JSON, so it was left untouched"
    assert_contains "$out" '"sysbox-runc": {"path": "/usr/bin/sysbox-runc"}'
    in_host cmp /etc/docker/daemon.json /root/daemon.json.bad || fail "an invalid daemon.json was changed"
    in_host env DEBIAN_FRONTEND=noninteractive apt-get purge -y sysboxd >/dev/null 2>&1 || fail "purge failed"
    in_host cmp /etc/docker/daemon.json /root/daemon.json.bad || fail "purge changed an invalid daemon.json"
}

# The systemd cgroup driver (the matrix's systemd-host cell): the host's Docker with
# native.cgroupdriver=systemd hands sysbox-runc --systemd-cgroup and slice:prefix:name paths; a
# system container lives in system.slice/docker-<id>.scope with its limits, a systemd image boots
# there and its inner Docker runs, and nothing of either remains after rm.
test_systemd_cgroup_driver() {
    docker save "$DEBIAN_IMAGE" > "$BASE/in/debian.tar"
    in_host sh -c 'mkdir -p /etc/docker && echo "{\"exec-opts\": [\"native.cgroupdriver=systemd\"]}" > /etc/docker/daemon.json'
    install_deb >/dev/null || fail "install failed"
    in_host systemctl restart docker   # exec-opts are not reloadable
    eventually "in_host docker info >/dev/null 2>&1" 60
    assert_eq "$(in_host docker info -f '{{.CgroupDriver}}')" "systemd"
    in_host docker run -d --runtime=sysbox-runc --pull=never -m 256m --name sd1 "$BUSYBOX_IMAGE" sleep 100000 >/dev/null
    local id pid; id=$(in_host docker inspect -f '{{.Id}}' sd1); pid=$(in_host docker inspect -f '{{.State.Pid}}' sd1)
    assert_contains "$(in_host cat /proc/$pid/cgroup | grep -E ':memory:|^0::')" "/system.slice/docker-$id.scope"
    # cgroup v1 (here) or v2 (the hosted runners).
    assert_eq "$(in_host sh -c "cat /sys/fs/cgroup/memory/system.slice/docker-$id.scope/memory.limit_in_bytes \
        /sys/fs/cgroup/system.slice/docker-$id.scope/memory.max 2>/dev/null")" "268435456"
    assert_eq "$(in_host docker exec sd1 head -1 /proc/meminfo | awk '{print $2}')" "262144"
    in_host_i docker load < "$BASE/in/debian.tar" >/dev/null
    in_host docker run -d --runtime=sysbox-runc --pull=never --name sd2 "$DEBIAN_IMAGE" >/dev/null
    eventually "in_host docker exec sd2 systemctl is-system-running 2>/dev/null | grep -qE '^(running|degraded)$'" 120
    local id2; id2=$(in_host docker inspect -f '{{.Id}}' sd2)
    assert_contains "$(in_host cat /proc/$(in_host docker inspect -f '{{.State.Pid}}' sd2)/cgroup | grep -E ':memory:|^0::')" "/system.slice/docker-$id2.scope"
    eventually "in_host docker exec sd2 docker info >/dev/null 2>&1" 60
    in_host_i docker exec -i sd2 docker load < "$BASE/in/busybox.tar" >/dev/null
    assert_eq "$(in_host docker exec sd2 docker run --rm "$BUSYBOX_IMAGE" echo inner-ok)" "inner-ok"
    in_host docker rm -f sd1 sd2 >/dev/null
    local d; for d in "$id" "$id2"; do
        eventually "! in_host sh -c 'ls -d /sys/fs/cgroup/*/system.slice/docker-$d.scope /sys/fs/cgroup/system.slice/docker-$d.scope 2>/dev/null' | grep -q ." 20
    done
    in_host docker rmi "$DEBIAN_IMAGE" >/dev/null
    rm -f "$BASE/in/debian.tar"
    in_host env DEBIAN_FRONTEND=noninteractive apt-get purge -y sysboxd >/dev/null 2>&1 || fail "purge failed"
}

# Builds the package unless $SYSBOXD_DEB names one.
test_package() {
    local out; out=$(bash ../../scripts/package.sh 2>&1) || fail "scripts/package.sh: $(echo "$out" | tail -15)"
    echo "$out" | sed 's/^/    # /'
    DEB=$(ls ../../dist/sysboxd_*_amd64.deb | tail -1)
    assert_eq "$(dpkg-deb -f "$DEB" Version)" "$(sed -n 's/^public let sysboxdVersion = "\(.*\)"/\1/p' ../../Sources/SysboxCore/Version.swift)"
    # Statically linked Swift: no libswift* among the libraries it needs.
    local b; b=$(mktemp -d); dpkg-deb -x "$DEB" "$b"
    if ldd "$b"/usr/bin/sysbox-* | grep -q libswift; then rm -rf "$b"; fail "a binary needs the Swift runtime"; fi
    rm -rf "$b"
}

# (`t` runs a case in a subshell: the package's path is looked up again here.)
if [ -z "$DEB" ]; then
    rm -f ../../dist/sysboxd_*_amd64.deb
    t "dpkg-buildpackage builds the .deb; lintian finds no error" test_package
    DEB=$(ls ../../dist/sysboxd_*_amd64.deb 2>/dev/null | tail -1)
fi
if [ -z "$DEB" ] || [ ! -s "$DEB" ]; then
    echo "not ok - a package to install"
    FAILED=$((FAILED + 1))
    summary
    exit 1
fi
echo "package: $DEB"
t "a Debian 12 host boots with systemd as PID 1 and its own Docker" test_boot
t "apt install: units active, Docker lists sysbox-runc, a system container has its own 65,536 ids" test_install
t "upgrade (the same version again, then a newer one) under a running system container: it runs on, its traps and /proc answer" test_upgrade_keeps_containers
t "remove is refused while containers run; remove, then purge: daemon.json as before, nothing left" test_remove_and_purge
t "without a daemon.json: install makes one, purge takes it away" test_without_daemon_json
t "the README's systemd path: install-package.sh installs it for the host's Docker" test_setup_path_install
t "an invalid daemon.json is left untouched, with what to add" test_invalid_daemon_json_untouched
t "the systemd cgroup driver: a system container in its scope with its limits; a systemd image boots, its Docker runs" test_systemd_cgroup_driver
[ -n "${SYSTEMD_HOST_KEEP:-}" ] || systemd_host_down
leftover=$(grep -c "$BASE" /proc/self/mountinfo || true)
[ "$leftover" -eq 0 ] || { echo "not ok - $leftover mounts of the systemd host remain"; FAILED=$((FAILED + 1)); }
summary

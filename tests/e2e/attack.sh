# What a container's root tries against the host, and must not get. Each case looks at the host
# side of the attempt (a file, a mount, a knob, a binary), not only at an exit code.

PROBE_DIR=$(mktemp -d)
HOSTX=$(mktemp -d)             # bound read-only as /x into the attacker's containers
HOSTMARK=sysboxd-hostmark-$$    # a file only the host's /tmp has
gcc -O2 -static -pthread -o "$PROBE_DIR/race" probe/race.c || echo "race probe did not build"
touch "/tmp/$HOSTMARK"
attack_cleanup() { rm -rf "$PROBE_DIR" "$HOSTX" "/tmp/$HOSTMARK"; }

# Runs a shell script in a system container with the probe at /p and the host directory at /x, read-only.
# Fails the case if the container did not run the script to its end (a failed docker run would
# otherwise pass every "must not contain" check).
inside() {
    local out
    out=$(drun --rm -v "$PROBE_DIR:/p:ro" -v "$HOSTX:/x:ro" $IMG sh -c "$1
echo attack-end" 2>&1) || true
    case $out in *attack-end*) printf '%s\n' "${out%attack-end*}" ;; *) echo "the container did not run its script: $out" >&2; return 1 ;; esac
}
host_untouched() { [ -z "$(ls -A "$HOSTX")" ] || fail "the read-only host directory was written: $(ls -A "$HOSTX")"; }

race_case() { # mode
    local out; out=$(inside "/p/race $1 2000")
    assert_contains "$out" "wins=0"
    assert_contains "$out" "control=ok"
    host_untouched
}
test_race_remount() { race_case remount; }
test_race_umount() { race_case umount; }
test_race_fstype() { race_case fstype; }
test_race_bind() { race_case bind; }
test_race_move() { race_case move; }

# Tries to make /x writable with the given commands, then writes a file through it.
ro_case() { # script
    inside "$1"' 2>/dev/null; touch /x/escaped 2>/dev/null; echo done' >/dev/null
    host_untouched
    [ ! -e "$HOSTX/escaped" ] || fail "wrote into the host"
}
test_ro_remount() { ro_case 'mount -o remount,rw /x'; }
test_ro_remount_bind() { ro_case 'mount -o remount,rw,bind /x'; }
test_ro_bind_copy() { ro_case 'mkdir /y && mount --bind /x /y && mount -o remount,rw,bind /y; touch /y/escaped'; }
test_ro_rbind_copy() { ro_case 'mkdir /y && mount --rbind /x /y && mount -o remount,rw,bind /y; touch /y/escaped'; }
test_ro_move() { ro_case 'mkdir /y && mount --move /x /y && mount -o remount,rw,bind /y; touch /y/escaped'; }
test_ro_unshare() { ro_case 'unshare -m sh -c "mount -o remount,rw,bind /x; touch /x/escaped"'; }
test_ro_chroot() { ro_case 'mkdir /c && mount --rbind / /c && chroot /c sh -c "mount -o remount,rw,bind /x; touch /x/escaped"'; }
test_ro_pivot_root() {
    ro_case 'unshare -m sh -c "mkdir -p /n && mount --rbind / /n && cd /n && mkdir -p old && pivot_root . old && cd / &&
        mount -o remount,rw,bind /x; umount -l /old; mount -o remount,rw,bind /x; touch /x/escaped"'
}
test_ro_new_mount_api() {
    local out; out=$(inside '/p/race newapi 1 /safe /x')
    assert_contains "$out" "newapi escaped=0"
    host_untouched
}

test_host_block_device() {
    local dev; dev=$(stat -c '%d' /)   # the host root's st_dev: major*256+minor
    local maj=$((dev >> 8)) min=$((dev & 255))
    local out; out=$(inside "mknod /dev/hd b $maj $min && echo mknod-ok; mkdir /m; mount -t ext4 /dev/hd /m && echo mount-ok; ls /m/tmp 2>/dev/null | grep -c $HOSTMARK")
    assert_not_contains "$out" "mknod-ok"
    assert_not_contains "$out" "mount-ok"
}
test_dev_mem() {
    local out; out=$(inside 'head -c 16 /dev/mem >/dev/null 2>&1 && echo mem-read; head -c 16 /dev/kmem >/dev/null 2>&1 && echo kmem-read; mknod /dev/m c 1 1 && echo mknod-ok')
    assert_not_contains "$out" "mem-read"
    assert_not_contains "$out" "mknod-ok"
}

test_proc_cover_umount() {
    local out; out=$(inside 'umount /proc/meminfo; umount -l /proc/meminfo; umount /proc/stat; umount -l /proc; stat -f -c %t /proc/meminfo /proc/stat')
    # Still the container's virtual files (FUSE), not the kernel's (procfs, 9fa0).
    assert_eq "$(echo "$out" | tail -2 | tr '\n' ' ')" "65735546 65735546 "
}
test_core_pattern() {
    local before; before=$(cat /proc/sys/kernel/core_pattern)
    inside 'echo "|/x/evil" > /proc/sys/kernel/core_pattern' >/dev/null
    assert_eq "$(cat /proc/sys/kernel/core_pattern)" "$before"
}
test_sysrq_trigger() {
    local out; out=$(inside 'echo h > /proc/sysrq-trigger && echo wrote')
    assert_not_contains "$out" "wrote"
}
test_drop_caches() {
    local out; out=$(inside 'echo 1 > /proc/sys/vm/drop_caches && echo wrote')
    assert_not_contains "$out" "wrote"
}
test_private_knob() {
    local before; before=$(cat /proc/sys/vm/overcommit_memory)
    local want=$(( (before + 1) % 3 ))
    local out; out=$(inside "echo $want > /proc/sys/vm/overcommit_memory; cat /proc/sys/vm/overcommit_memory")
    assert_eq "$out" "$want" "the container sees its own value"
    assert_eq "$(cat /proc/sys/vm/overcommit_memory)" "$before" "the host's value changed"
}
test_proc_hostname() {
    local before; before=$(hostname)
    inside 'echo evil-host > /proc/sys/kernel/hostname' >/dev/null
    assert_eq "$(hostname)" "$before"
}
test_kcore() {
    local out; out=$(inside 'cat /proc/kcore 2>/dev/null | head -c 64 | wc -c')
    assert_eq "$(echo $out)" "0"
}
test_new_procfs_is_covered() {
    local out; out=$(inside 'mkdir /m && mount -t proc p /m && stat -f -c %t /m /m/meminfo /m/stat')
    assert_eq "$(echo "$out" | tail -3 | tr '\n' ' ')" "9fa0 65735546 65735546 "
}
test_no_host_pids() {
    local out; out=$(inside 'ls /proc | grep -c "^[0-9]"; ls /proc/1/root/tmp | grep -c '"$HOSTMARK"'')
    [ "$(echo "$out" | head -1)" -lt 10 ] || fail "host processes visible: $out"
    assert_eq "$(echo "$out" | tail -1)" "0"
}
test_sys_uevent_helper() {
    local before; before=$(cat /sys/kernel/uevent_helper 2>/dev/null || echo none)
    local out; out=$(inside 'echo /x/evil > /sys/kernel/uevent_helper && echo wrote')
    assert_not_contains "$out" "wrote"
    assert_eq "$(cat /sys/kernel/uevent_helper 2>/dev/null || echo none)" "$before"
}
test_sys_thp() {
    local f=/sys/kernel/mm/transparent_hugepage/enabled before; before=$(cat $f)
    inside "echo never > $f" >/dev/null
    assert_eq "$(cat $f)" "$before"
}
test_new_sysfs_is_covered() {
    local out; out=$(inside 'mkdir /m && mount -t sysfs s /m && stat -f -c %t /m /m/devices/system/cpu/online')
    assert_eq "$(echo "$out" | tail -2 | tr '\n' ' ')" "62656572 65735546 "
}
test_release_agent_new_hierarchy() {
    local out; out=$(inside 'mkdir /m /n
        mount -t cgroup -o none,name=sbxattack c /m && echo mounted-named && { echo /x/evil > /m/release_agent && echo wrote; }
        mount -t cgroup -o pids c /n && echo mounted-pids && { echo /x/evil > /n/release_agent && echo wrote; }')
    assert_contains "$out" "mounted-pids"
    assert_not_contains "$out" "wrote"
    local f; for f in /sys/fs/cgroup/*/release_agent; do assert_not_contains "$(cat "$f")" "evil" "$f"; done
}
test_release_agent_own_cgroup() {
    local out; out=$(inside 'for c in /sys/fs/cgroup/*/; do echo /x/evil > $c/release_agent 2>/dev/null && echo wrote $c; echo 1 > $c/notify_on_release 2>/dev/null; done; true')
    assert_not_contains "$out" "wrote"
    local f; for f in /sys/fs/cgroup/*/release_agent; do assert_not_contains "$(cat "$f")" "evil" "$f"; done
}
test_cgroup_escape() {
    local out; out=$(inside 'echo $$ > /sys/fs/cgroup/pids/../cgroup.procs 2>/dev/null; cat /proc/self/cgroup | grep pids')
    assert_eq "$(echo "$out" | cut -d: -f3)" "/"
}

# CVE-2024-21626: a leaked fd of a host directory as the process's cwd.
leaked_fd_case() { # docker-run|docker-exec
    local n out
    for n in 3 4 5 6 7 8 9; do
        if [ "$1" = run ]; then
            out=$(drun --rm -w /proc/self/fd/$n $IMG sh -c "ls ../../../../../../tmp 2>/dev/null | grep -q $HOSTMARK && echo HOST-REACHED" 2>&1 || true)
        else
            out=$(docker exec -w /proc/self/fd/$n e2e-leak sh -c "ls ../../../../../../tmp 2>/dev/null | grep -q $HOSTMARK && echo HOST-REACHED" 2>&1 || true)
        fi
        assert_not_contains "$out" "HOST-REACHED" "fd $n"
    done
}
test_cve_2024_21626_run() { leaked_fd_case run; }
test_cve_2024_21626_exec() {
    drun -d --name e2e-leak $IMG sleep 1000 >/dev/null
    leaked_fd_case exec
    rmc e2e-leak
}
test_no_leaked_fds() {
    drun -d --name e2e-fds $IMG sleep 1000 >/dev/null
    local init; init=$(docker exec e2e-fds ls /proc/1/fd | sort -n | tr '\n' ' ')
    local ex; ex=$(docker exec e2e-fds sh -c 'ls /proc/$$/fd' | sort -n | tr '\n' ' ')
    rmc e2e-fds
    assert_eq "$init" "0 1 2 " "init's fds"
    # The exec'd shell: 0, 1, 2 and the fd ls opened on its directory.
    assert_eq "$ex" "0 1 2 3 " "an exec'd process's fds"
}
# CVE-2019-5736: overwrite the runtime binary through /proc/PID/exe while it works inside.
test_cve_2019_5736() {
    local sum; sum=$(sha256sum "$(command -v sysbox-runc)" | cut -d' ' -f1)
    drun -d --name e2e-exe -v "$PROBE_DIR:/p:ro" $IMG sh -c '/p/race exe 1 > /tmp/exe.out; sleep 1000' >/dev/null
    local i; for i in $(seq 1 10); do docker exec e2e-exe true; done
    eventually 'docker exec e2e-exe grep -q "exe tried" /tmp/exe.out' 10
    local out; out=$(docker exec e2e-exe cat /tmp/exe.out)
    rmc e2e-exe
    assert_contains "$out" "opened=0"
    assert_eq "$(sha256sum "$(command -v sysbox-runc)" | cut -d' ' -f1)" "$sum" "the runtime binary changed"
}
test_uid_map_fixed() {
    local out; out=$(inside 'echo "0 0 4294967295" > /proc/self/uid_map && echo wrote; cat /proc/self/uid_map')
    assert_not_contains "$out" "wrote"
    assert_not_contains "$out" " 0 4294967295"
}
test_host_network_hidden() {
    local out; out=$(inside 'cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " " | sort | tr "\n" " "')
    assert_not_contains "$out" "docker0"
    assert_not_contains "$out" "sysbox0"
}
test_devtmpfs_refused() {
    local out; out=$(inside 'mkdir /m && mount -t devtmpfs d /m && echo mounted')
    assert_not_contains "$out" "mounted"
}
test_host_only_calls() {
    local out; out=$(inside '/p/race hostonly 1')
    assert_contains "$out" "hostonly allowed=0"
    assert_eq "$(echo "$out" | grep -c "=Operation not permitted")" "5"
}

test_shocker_open_by_handle() {
    # open_by_handle_at needs CAP_DAC_READ_SEARCH in the initial user namespace (the "shocker" escape).
    local out; out=$(inside '/p/race handle 1 /safe /x')
    assert_contains "$out" "opened=0"
}

t "race: remount of a read-only host bind flipped from the container's own (2,000 tries)" test_race_remount
t "race: umount2 of a virtual /proc file flipped from the container's own tmpfs (2,000 tries)" test_race_umount
t "race: mount type flipped from tmpfs to proc: never a bare procfs (2,000 tries)" test_race_fstype
t "race: bind source flipped from /tmp to /proc: never bare /proc files (2,000 tries)" test_race_bind
t "race: MS_MOVE source flipped to a virtual /proc file (2,000 tries)" test_race_move
t "read-only host bind: remount rw" test_ro_remount
t "read-only host bind: remount rw,bind" test_ro_remount_bind
t "read-only host bind: a bind copy remounted rw" test_ro_bind_copy
t "read-only host bind: a recursive bind copy remounted rw" test_ro_rbind_copy
t "read-only host bind: moved, then remounted rw" test_ro_move
t "read-only host bind: remount rw after unshare -m" test_ro_unshare
t "read-only host bind: remount rw in a chroot onto a copy of /" test_ro_chroot
t "read-only host bind: remount rw after pivot_root" test_ro_pivot_root
t "read-only host bind: the new mount API (mount_setattr, open_tree, fsopen, fspick)" test_ro_new_mount_api
t "the host's root block device cannot be made or mounted" test_host_block_device
t "/dev/mem and /dev/kmem cannot be read or made" test_dev_mem
t "the virtual /proc files cannot be unmounted, lazily or not" test_proc_cover_umount
t "core_pattern written inside does not reach the host" test_core_pattern
t "sysrq-trigger cannot be written" test_sysrq_trigger
t "drop_caches cannot be written" test_drop_caches
t "a private /proc/sys knob changes inside only" test_private_knob
t "the hostname written through /proc/sys stays inside" test_proc_hostname
t "/proc/kcore reads nothing" test_kcore
t "a new procfs inside is covered too" test_new_procfs_is_covered
t "no host process, and no host root through /proc/1/root" test_no_host_pids
t "uevent_helper cannot be written" test_sys_uevent_helper
t "a host sysfs knob (transparent_hugepage) does not change" test_sys_thp
t "a new sysfs inside is covered too" test_new_sysfs_is_covered
t "release_agent of a cgroup v1 hierarchy mounted inside cannot be set" test_release_agent_new_hierarchy
t "release_agent of the container's own cgroups cannot be set" test_release_agent_own_cgroup
t "a process cannot leave its cgroup for the host's" test_cgroup_escape
t "CVE-2024-21626: docker run -w /proc/self/fd/N never reaches the host" test_cve_2024_21626_run
t "CVE-2024-21626: docker exec -w /proc/self/fd/N never reaches the host" test_cve_2024_21626_exec
t "no fd of the runtime leaks into init or an exec'd process" test_no_leaked_fds
t "CVE-2019-5736: /proc/PID/exe of every process inside cannot be opened for writing" test_cve_2019_5736
t "uid_map cannot be rewritten from inside" test_uid_map_fixed
t "the host's network interfaces are not visible" test_host_network_hidden
t "devtmpfs (the host's devices) cannot be mounted" test_devtmpfs_refused
t "open_by_handle_at on a host bind fails (shocker)" test_shocker_open_by_handle
t "module loading, kexec, swapoff, acct and iopl fail (the host's root only)" test_host_only_calls
attack_cleanup

# The virtual /proc and /sys files of sysbox-fs, as a user sees them inside.

host_mem_kb() { awk '/^MemTotal:/ {print $2}' /proc/meminfo; }
in_c() { docker exec "$1" sh -c "$2"; }

test_meminfo_limit() {
    drun -d --name e2e-mem -m 512m $IMG sleep 1000 >/dev/null
    drun -d --name e2e-mem2 $IMG sleep 1000 >/dev/null
    assert_eq "$(in_c e2e-mem "awk '/^MemTotal:/ {print \$2}' /proc/meminfo")" "524288"
    local free; free=$(in_c e2e-mem "awk '/^MemFree:/ {print \$2}' /proc/meminfo")
    [ "$free" -gt 0 ] && [ "$free" -le 524288 ] || fail "MemFree $free not within the limit"
    # Unlimited: the host's memory; and two containers never see each other's values.
    assert_eq "$(in_c e2e-mem2 "awk '/^MemTotal:/ {print \$2}' /proc/meminfo")" "$(host_mem_kb)"
    # No swap limit given by docker beyond memory: the header only.
    assert_eq "$(in_c e2e-mem 'wc -l < /proc/swaps')" "1"
    assert_contains "$(in_c e2e-mem 'cat /proc/swaps')" "Filename"
    # docker update reaches the file (the refresher re-reads the cgroup every second).
    docker update -m 256m --memory-swap 256m e2e-mem >/dev/null
    eventually '[ "$(in_c e2e-mem "awk '"'"'/^MemTotal:/ {print \$2}'"'"' /proc/meminfo")" = 262144 ]' 10
    rmc e2e-mem; rmc e2e-mem2
}

test_free_debian() {
    drun --rm -m 300m $DEBIAN_IMAGE free -k > "$TMPDIR_E2E/free.out" 2>&1 || fail "free: $(cat "$TMPDIR_E2E/free.out")"
    assert_eq "$(awk '/^Mem:/ {print $2}' "$TMPDIR_E2E/free.out")" "307200" "(free inside a -m 300m container)"
}

test_sysinfo() {
    # busybox free and uptime use sysinfo(2), answered from the container's own files.
    local out; out=$(drun --rm -m 300m $IMG sh -c 'free; uptime')
    assert_eq "$(echo "$out" | awk '/^Mem:/ {print $2}')" "307200" "($out)"
    assert_contains "$out" "up 0 min"
    # Unlimited: the host's memory.
    out=$(drun --rm $IMG free)
    assert_eq "$(echo "$out" | awk '/^Mem:/ {print $2}')" "$(host_mem_kb)"
}

test_cpus() {
    local out
    out=$(drun --rm --cpuset-cpus 0 $IMG sh -c 'cat /sys/devices/system/cpu/online; grep -c ^processor /proc/cpuinfo; grep -c "^cpu[0-9]" /proc/stat; grep "^cpu0 " /proc/stat | wc -l; nproc')
    assert_eq "$(echo $out)" "0 1 1 1 1"
    # The quota, rounded up, within the cpuset (policy fs.cpuQuotaView).
    out=$(drun --rm --cpus 1 $IMG sh -c 'cat /sys/devices/system/cpu/online; grep -c ^processor /proc/cpuinfo')
    assert_eq "$(echo $out)" "0 1"
    out=$(drun --rm --cpus 1.5 $IMG sh -c 'grep -c ^processor /proc/cpuinfo')
    assert_eq "$out" "$(grep -c ^processor /proc/cpuinfo | awk '{print ($1 < 2) ? $1 : 2}')"
}

test_loadavg() {
    drun -d --name e2e-load $IMG sh -c 'sleep 1000 & sleep 1000 & while :; do :; done' >/dev/null
    # Its own tasks: sh, two sleeps (the busy loop is the shell itself); sampled every 5 s.
    # (an exec caught by a sample adds its own one or two tasks)
    eventually 'n=$(in_c e2e-load "cut -d\" \" -f4 /proc/loadavg"); [ "${n#*/}" -ge 3 ] && [ "${n#*/}" -le 5 ] && [ "${n%/*}" -ge 1 ]' 15
    eventually '[ "$(in_c e2e-load "cut -d\" \" -f1 /proc/loadavg")" != "0.00" ]' 20
    local last; last=$(in_c e2e-load 'cut -d" " -f5 /proc/loadavg')
    [ "$last" -ge 1 ] && [ "$last" -lt 100 ] || fail "last pid $last is not one of the container's"
    rmc e2e-load
}

test_private_knobs() {
    local host; host=$(cat /proc/sys/kernel/panic)
    drun -d --name e2e-k1 $IMG sleep 1000 >/dev/null
    drun -d --name e2e-k2 $IMG sleep 1000 >/dev/null
    in_c e2e-k1 'echo 42 > /proc/sys/kernel/panic'
    assert_eq "$(in_c e2e-k1 'cat /proc/sys/kernel/panic')" "42"
    assert_eq "$(cat /proc/sys/kernel/panic)" "$host" "(host kernel.panic must not change)"
    assert_eq "$(in_c e2e-k2 'cat /proc/sys/kernel/panic')" "$host"
    # Values keep the kernel's shape; garbage is refused.
    in_c e2e-k1 'echo "3 4 1 7" > /proc/sys/kernel/printk'
    assert_eq "$(in_c e2e-k1 'cat /proc/sys/kernel/printk')" "$(printf '3\t4\t1\t7')"
    if in_c e2e-k1 'echo nonsense > /proc/sys/kernel/panic' 2>/dev/null; then fail "a non-number was accepted"; fi
    # Read-only knobs: the host's value, writes refused.
    assert_eq "$(in_c e2e-k1 'cat /proc/sys/kernel/cap_last_cap')" "$(cat /proc/sys/kernel/cap_last_cap)"
    if in_c e2e-k1 'echo 1 > /proc/sys/kernel/cap_last_cap' 2>/dev/null; then fail "cap_last_cap was writable"; fi
    assert_eq "$(in_c e2e-k1 'cat /proc/sys/kernel/ngroups_max')" "$(cat /proc/sys/kernel/ngroups_max)"
    # Namespaced knobs stay native and writable, each container its own.
    local before; before=$(in_c e2e-k2 'cat /proc/sys/net/core/somaxconn')
    in_c e2e-k1 'echo 1000 > /proc/sys/net/core/somaxconn'
    assert_eq "$(in_c e2e-k1 'cat /proc/sys/net/core/somaxconn')" "1000"
    assert_eq "$(in_c e2e-k2 'cat /proc/sys/net/core/somaxconn')" "$before"
    rmc e2e-k1; rmc e2e-k2
}

test_max_wins() {
    [ -e /proc/sys/net/netfilter/nf_conntrack_max ] || modprobe nf_conntrack 2>/dev/null || true
    [ -e /proc/sys/net/netfilter/nf_conntrack_max ] || fail "nf_conntrack is not loaded on this host"
    local host; host=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
    drun -d --name e2e-mw $IMG sleep 1000 >/dev/null
    local lower=$((host - 100)) higher=$((host + 1024)) rc=0
    {
        in_c e2e-mw "echo $lower > /proc/sys/net/netfilter/nf_conntrack_max" &&
        assert_eq "$(in_c e2e-mw 'cat /proc/sys/net/netfilter/nf_conntrack_max')" "$lower" &&
        assert_eq "$(cat /proc/sys/net/netfilter/nf_conntrack_max)" "$host" "(a lower value stays in the container)" &&
        in_c e2e-mw "echo $higher > /proc/sys/net/netfilter/nf_conntrack_max" &&
        assert_eq "$(in_c e2e-mw 'cat /proc/sys/net/netfilter/nf_conntrack_max')" "$higher" &&
        assert_eq "$(cat /proc/sys/net/netfilter/nf_conntrack_max)" "$higher" "(a higher value reaches the host)"
    } || rc=1
    echo "$host" > /proc/sys/net/netfilter/nf_conntrack_max
    rmc e2e-mw
    return $rc
}

test_root_owned() {
    # (a /sys/kernel directory the host kernel lacks, e.g. config without configfs, cannot be made in sysfs)
    local kdirs="" d; for d in debug tracing security config; do [ -d /sys/kernel/$d ] && kdirs="$kdirs /sys/kernel/$d"; done
    local out; out=$(drun --rm $IMG stat -c '%u:%g %n' /proc/meminfo /proc/stat /proc/sys/kernel/panic \
        /sys/devices/system/cpu/online $kdirs)
    assert_eq "$(echo "$out" | grep -vc '^0:0 ')" "0" "($out)"
}

test_proc_sys() {
    drun -d --name e2e-ps $IMG sleep 1000 >/dev/null
    # The whole tree is root's, as on a host (the kernel shows nobody for the host root's files).
    local out; out=$(in_c e2e-ps 'stat -c "%u:%g %n" /proc/sys /proc/sys/kernel /proc/sys/kernel/hostname /proc/sys/vm/swappiness /proc/sys/net/ipv4/ip_forward /proc/sys/fs/mqueue/msg_max')
    assert_eq "$(echo "$out" | grep -vc '^0:0 ')" "0" "($out)"
    assert_eq "$(in_c e2e-ps 'cat /proc/sys/kernel/hostname')" "$(docker inspect -f '{{.Config.Hostname}}' e2e-ps)"
    # A knob without a namespace is refused, and the host's value stays.
    local swap; swap=$(cat /proc/sys/vm/swappiness)
    if in_c e2e-ps "echo $((swap == 10 ? 11 : 10)) > /proc/sys/vm/swappiness" 2>/dev/null; then fail "vm.swappiness was writable"; fi
    assert_eq "$(cat /proc/sys/vm/swappiness)" "$swap" "(the host's vm.swappiness must not change)"
    in_c e2e-ps '[ ! -e /proc/sys/kernel/ns_last_pid ]' || fail "kernel/ns_last_pid (the host's pid namespace) is served"
    # Namespaced knobs: the container's network and IPC namespaces, not the host's; busybox cat
    # (sendfile, through the page cache) sees each new value.
    local fwd; fwd=$(cat /proc/sys/net/ipv4/ip_forward)
    in_c e2e-ps 'echo 0 > /proc/sys/net/ipv4/ip_forward; cat /proc/sys/net/ipv4/ip_forward; echo 1 > /proc/sys/net/ipv4/ip_forward; cat /proc/sys/net/ipv4/ip_forward' > "$TMPDIR_E2E/fwd"
    assert_eq "$(tr '\n' ' ' < "$TMPDIR_E2E/fwd")" "0 1 "
    assert_eq "$(cat /proc/sys/net/ipv4/ip_forward)" "$fwd" "(the host's ip_forward must not change)"
    local msg; msg=$(cat /proc/sys/kernel/msgmax)
    assert_eq "$(in_c e2e-ps 'echo 12345 > /proc/sys/kernel/msgmax && cat /proc/sys/kernel/msgmax')" "12345"
    assert_eq "$(cat /proc/sys/kernel/msgmax)" "$msg" "(the host's kernel.msgmax must not change)"
    # A process in another network namespace (an inner container's, `ip netns exec`) sees and sets
    # that namespace's knobs through the same files, as on the kernel's own.
    in_c e2e-ps 'echo 1 > /proc/sys/net/ipv4/conf/all/forwarding'
    assert_eq "$(in_c e2e-ps 'unshare -n sh -c "echo 0 > /proc/sys/net/ipv4/conf/all/forwarding; cat /proc/sys/net/ipv4/conf/all/forwarding; ls /proc/sys/net/ipv4/conf"' | tr '\n' ' ')" "0 all default lo "
    assert_eq "$(in_c e2e-ps 'cat /proc/sys/net/ipv4/conf/all/forwarding')" "1"
    # Only the knob's owner writes: a user inside is refused, as by the kernel.
    in_c e2e-ps 'echo "u:x:1000:1000::/:/bin/sh" >> /etc/passwd'
    if in_c e2e-ps 'su u -c "echo 0 > /proc/sys/net/ipv4/ip_forward"' 2>/dev/null; then fail "a user inside wrote net.ipv4.ip_forward"; fi
    assert_eq "$(in_c e2e-ps 'su u -c "cat /proc/sys/net/ipv4/ip_forward"')" "1"
    # sysctl -a reads the whole tree.
    [ "$(in_c e2e-ps 'sysctl -a 2>/dev/null | wc -l')" -gt 500 ] || fail "sysctl -a lists too little"
    rmc e2e-ps
}

test_openat2_no_xdev() {
    # libpathrs (runc 1.2 and later) opens procfs files relative to /proc with RESOLVE_NO_XDEV: the
    # virtual files and /proc/sys answer as the kernel's own would; masks and other mounts do not.
    local bin="$TMPDIR_E2E/probe"; mkdir -p "$bin" && chmod 755 "$TMPDIR_E2E" "$bin"
    gcc -O2 -static -o "$bin/openat2" probe/openat2.c || fail "the openat2 probe did not build"
    drun -d --name e2e-oa -m 256m -v "$bin:/probe:ro" $IMG sleep 1000 >/dev/null
    local out; out=$(in_c e2e-oa '/probe/openat2 /proc xdev meminfo loadavg sys/kernel/ostype sys/kernel/panic sys/net/ipv4/ip_forward self/comm thread-self/comm timer_list ../etc/passwd')
    assert_contains "$out" "meminfo ok MemTotal:         262144 kB"
    assert_contains "$out" "sys/kernel/ostype ok Linux"
    assert_contains "$out" "sys/kernel/panic ok"
    assert_contains "$out" "sys/net/ipv4/ip_forward ok"
    # self is the caller, not whoever opened the file for it.
    assert_contains "$out" "self/comm ok openat2"
    assert_contains "$out" "thread-self/comm ok openat2"
    # A mask (Docker's /dev/null over timer_list) and a way out of /proc stay refused.
    assert_contains "$out" "timer_list EXDEV"
    assert_contains "$out" "../etc/passwd EXDEV"
    # Without the flag, and relative to anything else, the kernel answers as before.
    assert_contains "$(in_c e2e-oa '/probe/openat2 /proc none meminfo timer_list')" "timer_list ok"
    assert_contains "$(in_c e2e-oa '/probe/openat2 / xdev etc/hostname proc/meminfo')" "proc/meminfo EXDEV"
    # O_PATH handles cannot be installed by the manager: the kernel answers them (EXDEV across a
    # virtual file, as before; plain procfs entries and magic links as on a host).
    out=$(in_c e2e-oa '/probe/openat2 /proc xdev-path meminfo self/comm thread-self/fd 1/status sys')
    assert_contains "$out" "meminfo EXDEV"
    assert_contains "$out" "self/comm ok path"
    assert_contains "$out" "thread-self/fd ok path"
    assert_contains "$out" "1/status ok path"
    assert_contains "$out" "sys EXDEV"
    # Opened with the caller's ids, not the manager's: the host root's 0400 and 0600 files stay
    # closed to the container's root, as natively; a user inside reads what it may.
    assert_eq "$(in_c e2e-oa '/probe/openat2 /proc xdev slabinfo sys/kernel/cad_pid' | tr '\n' ' ')" "slabinfo EACCES sys/kernel/cad_pid EACCES "
    in_c e2e-oa 'echo "u:x:1000:1000::/:/bin/sh" >> /etc/passwd'
    out=$(in_c e2e-oa 'su u -c "/probe/openat2 /proc xdev meminfo sys/kernel/ostype"')
    assert_contains "$out" "meminfo ok MemTotal:"
    rmc e2e-oa
}

# The container's `cat /proc/cpuinfo` sleeps inside a file syscall (read, sendfile, stat, fstat,
# openat, newfstatat: busybox copies with sendfile).
blocked_reader() {
    local p; p=$(pgrep -xf 'cat /proc/cpuinfo' | head -1)
    [ -n "$p" ] || return 1
    case "$(cut -d' ' -f1 "/proc/$p/syscall" 2>/dev/null)" in 0 | 4 | 5 | 40 | 257 | 262) return 0 ;; esac
    return 1
}

test_fs_restart() {
    drun -d --name e2e-fsr -m 400m $IMG sleep 1000 >/dev/null
    local id; id=$(cid e2e-fsr)
    in_c e2e-fsr 'echo 17 > /proc/sys/kernel/panic; cat /proc/meminfo /proc/sys/kernel/ostype /proc/sys/net/ipv4/ip_forward >/dev/null'
    kill_daemon fs KILL
    # While it is down: a file not read yet waits for the new server instead of failing.
    docker exec e2e-fsr cat /proc/cpuinfo > "$TMPDIR_E2E/cpuinfo.out" 2>&1 & local reader=$!
    # The reader reaches the kernel and waits there, in a file syscall nobody serves.
    eventually blocked_reader 10
    kill -0 $reader 2>/dev/null || fail "the read ended while sysbox-fs was down: $(cat "$TMPDIR_E2E/cpuinfo.out")"
    bash ../../scripts/daemons.sh start >/dev/null
    wait $reader || fail "read during the restart failed: $(cat "$TMPDIR_E2E/cpuinfo.out")"
    assert_contains "$(cat "$TMPDIR_E2E/cpuinfo.out")" "processor"
    assert_eq "$(in_c e2e-fsr "awk '/^MemTotal:/ {print \$2}' /proc/meminfo")" "409600"
    assert_eq "$(in_c e2e-fsr 'cat /proc/sys/kernel/panic')" "17" "(a private value survives the restart)"
    # /proc/sys: the new server serves the inodes the old one handed out (cached by the kernel).
    assert_eq "$(in_c e2e-fsr 'echo 0 > /proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/ostype' | tr '\n' ' ')" "0 Linux "
    docker update -m 200m --memory-swap 200m e2e-fsr >/dev/null
    eventually '[ "$(in_c e2e-fsr "awk '"'"'/^MemTotal:/ {print \$2}'"'"' /proc/meminfo")" = 204800 ]' 10
    # A new container after the restart is served too.
    assert_eq "$(drun --rm -m 100m $IMG awk '/^MemTotal:/ {print $2}' /proc/meminfo)" "102400"
    rmc e2e-fsr
    [ ! -e "/var/lib/sysboxfs/$id" ] || fail "/var/lib/sysboxfs/$id remains"
}

test_fs_restart_mgr() {
    # A restart of sysbox-mgr changes nothing for sysbox-fs: the FUSE fds stay with sysbox-keep, so
    # a later restart of sysbox-fs still finds them.
    drun -d --name e2e-mgr $IMG sleep 1000 >/dev/null
    kill_daemon mgr TERM
    bash ../../scripts/daemons.sh start >/dev/null
    eventually 'sysbox-mgr status >/dev/null 2>&1' 10
    kill_daemon fs KILL
    bash ../../scripts/daemons.sh start >/dev/null
    assert_contains "$(in_c e2e-mgr 'cat /proc/cpuinfo /proc/swaps')" "Filename"
    rmc e2e-mgr
}

TMPDIR_E2E=$(mktemp -d)
test_fs_trace() {
    # sysbox-fs trace shows which container read or wrote which file and how it was served; a
    # second subscriber filtered on another container sees none of it; both end with their client.
    local out; out=$(mktemp); local other; other=$(mktemp)
    sysbox-fs trace --json > "$out" 2> "$out.err" & local tp=$!
    sysbox-fs trace --container ffffffffffff > "$other" 2> "$other.err" & local op=$!
    eventually "grep -q 'following requests' '$out.err' && grep -q 'following requests' '$other.err'" 10
    drun -d --name e2e-fstrace $IMG sh -c 'cat /proc/meminfo > /dev/null; cat /proc/sys/kernel/ostype; echo 3 > /proc/sys/kernel/panic; sleep 100' > /dev/null
    local id; id=$(cid e2e-fstrace)
    eventually "jq -e 'select(.file == \"/proc/sys/kernel/panic\" and .op == \"write\")' '$out' > /dev/null" 10
    local meminfo; meminfo=$(jq -c "select(.container == \"$id\" and .file == \"/proc/meminfo\" and .op == \"read\")" "$out" | head -1)
    [ -n "$meminfo" ] || fail "no read of /proc/meminfo by the container in: $(head -5 "$out")"
    assert_eq "$(echo "$meminfo" | jq -r .served)" "rendered"
    [ "$(echo "$meminfo" | jq -r .pid)" -gt 0 ] || fail "no caller pid: $meminfo"
    assert_eq "$(jq -r "select(.container == \"$id\" and .file == \"/proc/sys/kernel/ostype\") | .served" "$out" | head -1)" "kernel"
    assert_eq "$(jq -r "select(.container == \"$id\" and .file == \"/proc/sys/kernel/panic\" and .op == \"write\") | .served" "$out" | head -1)" "stored"
    # The refresher keeps a file being read current: its changes show as refresh lines.
    eventually "jq -e 'select(.op == \"refresh\" and .container == \"$id\")' '$out' > /dev/null" 10
    assert_eq "$(wc -l < "$other")" "0"
    rmc e2e-fstrace
    kill $tp $op; wait $tp $op 2>/dev/null || true
    rm -f "$out" "$out.err" "$other" "$other.err"
}

t "meminfo: the memory limit, usage, swaps; follows docker update; per container" test_meminfo_limit
t "free (procps) shows the memory limit" test_free_debian
t "sysinfo(2): busybox free and uptime show the container" test_sysinfo
t "cpuinfo, stat, cpu/online, nproc: the cpuset and the quota rounded up" test_cpus
t "loadavg from the container's own tasks" test_loadavg
t "/proc/sys: private, read-only and namespaced knobs" test_private_knobs
t "/proc/sys/net/netfilter/nf_conntrack_max: max wins" test_max_wins
t "virtual files and /sys/kernel placeholders look root-owned" test_root_owned
t "/proc/sys: root's, in each caller's namespaces; knobs without a namespace refused" test_proc_sys
t "openat2 RESOLVE_NO_XDEV from /proc reaches the virtual files, not the masks" test_openat2_no_xdev
t "sysbox-fs trace shows who read or wrote which file, and how it was served" test_fs_trace
t "sysbox-fs killed with SIGKILL and restarted: running containers keep their files" test_fs_restart
t "sysbox-mgr restarted, then sysbox-fs: the files still work" test_fs_restart_mgr
rm -rf "$TMPDIR_E2E"

# Trapped syscalls answered by sysbox-mgr: hostname, policies, the live trace, no leaked listeners.

mgr_fds() { ls "/proc/$(cat "$SYSBOXD_STATE/mgr.pid")/fd" | wc -l; }

# Starts `sysbox-mgr trace ARGS` with its lines in FILE and returns once it is subscribed (it says
# so on stderr); its pid is in TRACE_PID.
trace_start() { # file args...
    local f=$1; shift
    sysbox-mgr trace "$@" > "$f" 2> "$f.err" &
    TRACE_PID=$!
    eventually "grep -q 'following trapped calls' '$f.err'" 10
}

test_hostname_trapped_and_traced() {
    local trace; trace=$(mktemp)
    trace_start "$trace" --json --syscall sethostname; local tp=$TRACE_PID
    local before; before=$(mgr_fds)
    local out; out=$(drun --rm --name e2e-host $IMG sh -c 'hostname inner-name && hostname')
    assert_eq "$out" "inner-name"
    assert_ne "$(hostname)" "inner-name" "the host's hostname changed"
    eventually 'grep -q inner-name "$trace"' 5
    local line; line=$(grep inner-name "$trace" | head -1)
    assert_eq "$(echo "$line" | jq -r .syscall)" "sethostname"
    assert_eq "$(echo "$line" | jq -r .verdict)" "continued"
    kill $tp; wait $tp 2>/dev/null || true
    rm -f "$trace" "$trace.err"
    # The listener of the container is closed once its processes are gone (the trace socket too).
    eventually '[ "$(mgr_fds)" -le "$before" ]' 5
}

test_locked_hostname_policy() {
    local out; out=$(drun --rm -e SYSBOX_POLICY=locked-hostname $IMG sh -c 'hostname blocked 2>&1; echo rc=$?; hostname')
    assert_contains "$out" "Operation not permitted"
    assert_contains "$out" "rc=1"
    assert_not_contains "$out" "blocked
"
}

test_exec_is_trapped_too() {
    drun -d --name e2e-exectrap -e SYSBOX_POLICY=locked-hostname $IMG sleep 1000 >/dev/null
    set +e; local out; out=$(docker exec e2e-exectrap hostname other 2>&1); local rc=$?; set -e
    assert_ne "$rc" "0"
    assert_contains "$out" "Operation not permitted"
    rmc e2e-exectrap
}

test_unknown_policy_is_one_error() {
    set +e; local out; out=$(drun --rm -e SYSBOX_POLICY=no-such-policy $IMG true 2>&1); local rc=$?; set -e
    [ $rc -ne 0 ] || fail "an unknown policy was accepted"
    assert_contains "$out" "policy \"no-such-policy\" not found"
}

test_many_trapped_calls_in_a_row() {
    # Every notification after the first reuses the receive buffer: the listener must keep serving.
    local out; out=$(drun --rm $IMG sh -c 'i=0; while [ $i -lt 300 ]; do hostname "h$i" || exit 1; i=$((i+1)); done; hostname')
    assert_eq "$out" "h299"
}

# Runs N containers at once, the i-th running `sh -c "$(script_fn i)"`; each must succeed and
# print what `expect_fn i` says.
containers_at_once() { # n script_fn expect_fn
    local i n=$1 pids=() dir; dir=$(mktemp -d)
    for i in $(seq 1 "$n"); do
        drun --rm $IMG sh -c "$($2 "$i")" > "$dir/$i" 2>&1 &
        pids+=($!)
    done
    for i in $(seq 1 "$n"); do wait "${pids[$((i-1))]}" || fail "container $i failed: $(cat "$dir/$i")"; done
    for i in $(seq 1 "$n"); do assert_eq "$(cat "$dir/$i")" "$($3 "$i")"; done
    rm -rf "$dir"
}

test_ten_containers_trap_concurrently() {
    hostnames() { echo "i=0; while [ \$i -lt 100 ]; do hostname c$1-\$i || exit 1; i=\$((i+1)); done; hostname"; }
    last_hostname() { echo "c$1-99"; }
    containers_at_once 10 hostnames last_hostname
}

test_protected_mounts_stay() {
    local out; out=$(drun --rm $IMG sh -c '
        for m in /proc /sys /proc/keys /sys/firmware /; do umount "$m" 2>/dev/null; echo "$m=$?"; done
        cd /proc && umount keys 2>/dev/null; echo relative=$?
        chroot / umount /proc/keys 2>/dev/null; echo chroot=$?
        umount -l /proc/keys 2>/dev/null; echo detach=$?
        mkdir /m && mount -t tmpfs t /m && umount /m && echo own=0
        grep -c " /proc/keys " /proc/self/mountinfo')
    local m; for m in /proc /sys /proc/keys /sys/firmware / relative chroot detach; do assert_contains "$out" "$m=1"; done
    assert_contains "$out" "own=0"
    assert_eq "$(echo "$out" | tail -1)" "1" "the mask over /proc/keys is gone"
}

# The mounts stacked below a procfs/sysfs mount point, relative to it, with type and ro/rw.
# (A here-doc function so every test runs the same awk inside the container.)
OVERS='overs() { awk -v b="$1/" '"'"'index($5, b) == 1 { r = substr($5, length(b) + 1); split($6, o, ","); print r, $(NF-2), o[1] }'"'"' /proc/self/mountinfo | sort; }'

test_mount_proc_gets_the_protected_view() {
    local out; out=$(drun --rm $IMG sh -c "$OVERS"'
        mkdir /m /r
        # Whatever is bound over a /proc file at the time of the call comes along (sysbox-fs files
        # and this one of ours, over a file nobody else binds).
        echo fake-version > /tmp/mi && mount --bind /tmp/mi /proc/version
        mount -t proc proc /m || exit 1
        mount -t proc -o ro proc /r || exit 1
        # (The /proc/sys of sysbox-fs excepted: a new procfs keeps the kernel one, the knob files over it.)
        overs /proc | grep -v "^sys fuse.sysboxfs " > /tmp/a; overs /m > /tmp/b
        [ -s /tmp/a ] || { echo "no bind-overs below /proc"; exit 1; }
        diff /tmp/a /tmp/b && echo same-view
        echo "version=$(cat /m/version)"
        echo "keys=$(wc -c < /m/keys)"
        overs /r | awk "\$3 != \"ro\"" | head -3 | sed "s/^/rw-under-ro: /"
        # Unmasking the new view is refused like the original.
        umount /m/keys 2>&1; echo umount-mask=$?
        umount /m && echo umount-whole=0')
    assert_contains "$out" "same-view"
    assert_contains "$out" "version=fake-version"
    assert_contains "$out" "keys=0"
    assert_not_contains "$out" "rw-under-ro"
    assert_contains "$out" "umount-mask=1"
    assert_contains "$out" "umount-whole=0"
}

test_mount_sysfs_gets_the_protected_view() {
    local out; out=$(drun --rm $IMG sh -c "$OVERS"'
        mkdir /s && mount -t sysfs sysfs /s || exit 1
        overs /sys > /tmp/a; overs /s > /tmp/b
        grep -q "^firmware " /tmp/a || { echo "no mask over /sys/firmware"; exit 1; }
        diff /tmp/a /tmp/b && echo same-view
        ls /s/firmware | wc -l')
    assert_contains "$out" "same-view"
    assert_eq "$(echo "$out" | tail -1)" "0" "/sys/firmware is not masked in the new sysfs"
}

test_bind_of_proc_keeps_the_masks() {
    # A non-recursive bind would show the bare procfs: it is made recursive.
    local out; out=$(drun --rm $IMG sh -c "$OVERS"'
        mkdir /b && mount --bind /proc /b || exit 1
        overs /proc > /tmp/a; overs /b > /tmp/b; diff /tmp/a /tmp/b && echo same-view')
    assert_contains "$out" "same-view"
}

test_readonly_mounts_stay_readonly() {
    local out; out=$(drun --rm -v /tmp:/hosttmp:ro $IMG sh -c '
        mount -o remount,rw /proc/bus 2>/dev/null; echo remount=$?
        mount -o remount,bind,rw /proc/bus 2>/dev/null; echo remount-bind=$?
        mount -o remount,rw /hosttmp 2>/dev/null; echo volume=$?
        mkdir /x /y && mount --bind /proc/bus /x && mount --bind /proc/fs /y || exit 1
        grep -q " /x ro," /proc/self/mountinfo && echo bind-is-ro
        mount -o remount,bind,rw /x 2>/dev/null; echo rw-bind=$?
        mount -o remount,bind,ro,nosuid /y; echo to-ro=$?
        # The container'"'"'s own read-only mounts are its own to make writable again.
        mkdir /t /t2 && mount --bind /t /t2 && mount -o remount,bind,ro /t2 && mount -o remount,bind,rw /t2 && echo own-ro-to-rw=0
        touch /hosttmp/x 2>/dev/null; echo write=$?')
    local k; for k in remount remount-bind volume rw-bind write; do assert_contains "$out" "$k=1"; done
    assert_contains "$out" "bind-is-ro"
    assert_contains "$out" "to-ro=0"
    assert_contains "$out" "own-ro-to-rw=0"
}

test_protection_in_nested_mount_namespaces() {
    # The same rules, run plain, after unshare -m, in a chroot onto a recursive copy of /, and after
    # pivot_root into such a copy in a new mount namespace (the old root then stays removable).
    local out; out=$(drun --rm $IMG sh -c '
        printf "%s\n" "try() { \"\$@\" 2>/dev/null; echo \"\$P\$*=\$?\"; }" \
            "try umount /proc/keys; try umount /proc; try umount /sys; try umount -l /sys/firmware; try umount /" \
            "try mount -o remount,rw /proc/bus" \
            "ln -sf /proc/keys /tmp/lk; try umount /tmp/lk" \
            "mkdir -p /t && mount -t tmpfs t /t && umount /t && echo \"\${P}own=0\"" > /tmp/rules.sh
        P=plain: sh /tmp/rules.sh
        P=unshare: unshare -m sh /tmp/rules.sh
        mkdir /c && mount --rbind / /c && P=chroot: chroot /c sh /tmp/rules.sh
        P=pivot: unshare -m sh -c "mkdir -p /n && mount --rbind / /n && cd /n && mkdir -p old && pivot_root . old && cd / || exit 9
            sh /tmp/rules.sh
            umount /old/proc/keys 2>/dev/null; echo pivot:oldmask=\$?
            umount -l /old && echo pivot:detach-old=0"
        touch /f && mount --bind /dev/null /f && umount /f && echo devnull=0')
    local v k
    for v in plain unshare chroot pivot; do
        for k in "umount /proc/keys=1" "umount /proc=1" "umount /sys=1" "umount -l /sys/firmware=1" "umount /=1" \
                 "mount -o remount,rw /proc/bus=1" "umount /tmp/lk=1" "own=0"; do
            assert_contains "$out" "$v:$k"
        done
    done
    assert_contains "$out" "pivot:oldmask=1"
    assert_contains "$out" "pivot:detach-old=0"
    assert_contains "$out" "devnull=0"
}

test_mount_policy_allow_list() {
    local pol=$POLICY_DIR/e2e-mounts.json
    sed 's/"allowed": \[[^]]*\]/"allowed": ["proc", "sysfs"]/' "$POLICY_DIR/default.json" > "$pol"
    grep -q '"allowed": \["proc", "sysfs"\]' "$pol" || fail "policy not written"
    local trace; trace=$(mktemp)
    trace_start "$trace" --json --syscall mount; local tp=$TRACE_PID
    local out; out=$(drun --rm -e SYSBOX_POLICY=e2e-mounts $IMG sh -c '
        mkdir /t /p; mount -t tmpfs t /t 2>/dev/null; echo tmpfs=$?; mount -t proc p /p; echo proc=$?')
    local def; def=$(drun --rm $IMG sh -c 'mkdir /t; mount -t tmpfs t /t; echo tmpfs=$?')
    rm -f "$pol"
    eventually 'grep -q "not in mount.allowed" "$trace"' 5
    kill $tp; wait $tp 2>/dev/null || true
    local line; line=$(grep 'not in mount.allowed' "$trace" | head -1); rm -f "$trace" "$trace.err"
    assert_contains "$out" "tmpfs=1"
    assert_contains "$out" "proc=0"
    assert_contains "$def" "tmpfs=0"
    assert_contains "$(echo "$line" | jq -r .verdict)" "policy: filesystem tmpfs not in mount.allowed"
}

test_mount_emulation_is_traced_and_leaves_no_helpers() {
    local trace; trace=$(mktemp)
    trace_start "$trace" --json --syscall mount; local tp=$TRACE_PID
    local before; before=$(mgr_fds)
    drun --rm $IMG sh -c 'mkdir /m; i=0; while [ $i -lt 20 ]; do mount -t proc proc /m && umount /m || exit 1; i=$((i+1)); done' ||
        fail "20 proc mounts in a row failed"
    eventually '[ "$(grep -c emulated "$trace")" -ge 20 ]' 5
    kill $tp; wait $tp 2>/dev/null || true
    rm -f "$trace" "$trace.err"
    local mgr; mgr=$(cat "$SYSBOXD_STATE/mgr.pid")
    assert_eq "$(ps -o pid= --ppid "$mgr" | wc -l)" "0" "helpers of sysbox-mgr left running"
    eventually '[ "$(mgr_fds)" -le "$before" ]' 5
}

# Stock runc (and crun) with linux.seccomp.listenerPath pointing at sysbox-mgr's agent socket.
agent_bundle() { # dir args-json policy
    local b=$1
    mkdir -p "$b" && cp -a /var/lib/sysboxd-test/busybox "$b/rootfs"
    (cd "$b" && runc spec)
    jq --arg s "$(dirname "$MGR_SOCK")/seccomp-agent.sock" --argjson a "$2" --arg p "$3" '
        .process.args = $a | .process.terminal = false | .root.readonly = false
        | .process.capabilities |= with_entries(.value += ["CAP_SYS_ADMIN"])
        | .annotations = {"io.sysboxd.policy": $p}
        | .linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", listenerPath: $s,
                            syscalls: [{names: ["sethostname", "mount"], action: "SCMP_ACT_NOTIFY"}]}' \
        "$b/config.json" > "$b/c.json" && mv "$b/c.json" "$b/config.json"
}

test_oci_agent_with_stock_runc_and_crun() {
    local work; work=$(mktemp -d /tmp/sysboxd-agent.XXXXXX)
    local trace; trace=$(mktemp)
    trace_start "$trace" --json; local tp=$TRACE_PID
    local before; before=$(mgr_fds)
    local script='hostname agent-name; echo rc=$?; hostname; mkdir -p /m; mount -t proc proc /m; echo proc=$?; wc -c < /m/keys'
    agent_bundle "$work/a" "$(jq -nc --arg s "$script" '["sh","-c",$s]')" default
    agent_bundle "$work/b" '["sh","-c","hostname blocked; echo rc=$?"]' locked-hostname
    local a b c
    a=$(timeout 30 runc --root "$work/state" run -b "$work/a" it-agent-a </dev/null 2>&1)
    b=$(timeout 30 runc --root "$work/state" run -b "$work/b" it-agent-b </dev/null 2>&1)
    # crun refuses this host's hybrid cgroup layout: a private mount namespace gives it pure v2.
    c=$(timeout 30 unshare -m --propagation private sh -c 'umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup &&
        exec crun --cgroup-manager=disabled --root "$0/cstate" run -b "$0/a" it-agent-c' "$work" </dev/null 2>&1)
    # runc exec sends the exec'd process's listener too.
    agent_bundle "$work/d" '["sleep","100"]' locked-hostname
    timeout 30 runc --root "$work/state" run -d -b "$work/d" it-agent-d </dev/null >/dev/null 2>&1 || fail "runc run -d failed"
    local d; d=$(timeout 30 runc --root "$work/state" exec it-agent-d sh -c 'hostname x 2>&1; echo rc=$?' </dev/null)
    timeout 30 runc --root "$work/state" delete --force it-agent-d
    eventually 'grep -q it-agent-b "$trace"' 5
    kill $tp; wait $tp 2>/dev/null || true
    assert_contains "$a" "rc=0"
    assert_contains "$a" "agent-name"
    assert_contains "$a" "proc=0"
    assert_eq "$(echo "$a" | tail -1)" "0" "the new proc's /keys is not masked as runc's /proc/keys is"
    assert_eq "$c" "$a" "crun got other answers than runc"
    assert_contains "$b" "Operation not permitted"
    assert_contains "$b" "rc=1"
    assert_contains "$d" "Operation not permitted"
    assert_contains "$d" "rc=1"
    assert_ne "$(hostname)" "agent-name"
    assert_eq "$(grep it-agent-a "$trace" | jq -r 'select(.syscall == "sethostname") | .verdict')" "continued"
    assert_contains "$(grep it-agent-a "$trace" | jq -r 'select(.syscall == "mount") | .verdict')" "emulated"
    assert_contains "$(grep it-agent-b "$trace" | jq -r .verdict)" "EPERM"
    rm -f "$trace" "$trace.err"
    rm -rf "$work"
    eventually '[ "$(mgr_fds)" -le "$before" ]' 5
}

test_new_mount_api_is_enosys() {
    # fsopen("proc") + fsmount would give a procfs without its masks, open_tree a bare clone of
    # /proc, mount_setattr could clear an initial mount's read-only flag: ENOSYS, so callers use
    # mount(2).
    # (x86_64 numbers: open_tree 428, fsopen 430, mount_setattr 442; OPEN_TREE_CLONE 1.)
    local out; out=$(drun --rm "$DEBIAN_IMAGE" perl -e '
        use Errno;
        sub try { my ($name, $r) = @_; print "$name=", ($r < 0 ? ($!{ENOSYS} ? "ENOSYS" : "errno" . ($!+0)) : "ok"), "\n"; }
        my ($fs, $proc, $bus) = ("proc", "/proc", "/proc/bus");   # syscall() may write to its string arguments
        try("fsopen", syscall(430, $fs, 0));
        try("open_tree-clone", syscall(428, -100, $proc, 1));
        try("open_tree-path", syscall(428, -100, $proc, 0));
        my $attr = pack("QQQQ", 0, 1, 0, 0);   # attr_clr = MOUNT_ATTR_RDONLY
        try("mount_setattr", syscall(442, -100, $bus, 0, $attr, 32));
        open(my $m, "<", "/proc/self/mountinfo"); print grep { m{ /proc/bus ro,} } <$m>;')
    assert_contains "$out" "fsopen=ENOSYS"
    assert_contains "$out" "open_tree-clone=ENOSYS"
    assert_contains "$out" "open_tree-path=ok"
    assert_contains "$out" "mount_setattr=ENOSYS"
    assert_contains "$out" " /proc/bus ro,"
}

test_new_mount_api_makes_a_tmpfs_but_moves_no_mask() {
    # systemd 258+ makes credentials directories with fsopen("tmpfs") + fsmount + move_mount and
    # has no mount(2) fallback: a new tmpfs or ramfs is made and attached. An attached tmpfs (the
    # mask over /proc/acpi) is not moved by its fd, and fsopen of procfs stays ENOSYS.
    # (x86_64: move_mount 429, fsopen 430, fsconfig 431, fsmount 432; FSCONFIG_CMD_CREATE 6;
    # MOVE_MOUNT_F_EMPTY_PATH 4; O_PATH|O_DIRECTORY 010200000.)
    local out; out=$(drun --rm "$DEBIAN_IMAGE" perl -e '
        use Errno;
        sub res { my $r = shift; return $r >= 0 ? "ok" : ($!{ENOSYS} ? "ENOSYS" : "errno" . ($!+0)); }
        my ($t, $p, $e, $new, $moved) = ("tmpfs", "proc", "", "/mnt/new", "/mnt/moved");
        mkdir $new; mkdir $moved;
        my $fs = syscall(430, $t, 1); print "fsopen-tmpfs=", res($fs), "\n";
        print "fsconfig=", res(syscall(431, $fs, 6, 0, 0, 0)), "\n";
        my $m = syscall(432, $fs, 1, 0); print "fsmount=", res($m), "\n";
        print "attach=", res(syscall(429, $m, $e, -100, $new, 4)), "\n";
        print "fsopen-proc=", res(syscall(430, $p, 1)), "\n";
        sysopen(my $mask, "/proc/acpi", 010200000) or die "open /proc/acpi: $!";
        print "move-mask=", res(syscall(429, fileno($mask), $e, -100, $moved, 4)), "\n";
        open(my $mi, "<", "/proc/self/mountinfo");
        for (<$mi>) { my @f = split / /; print "mounted $f[4]\n" if $f[4] =~ m{^(/mnt/|/proc/acpi$)}; }')
    assert_contains "$out" "fsopen-tmpfs=ok"
    assert_contains "$out" "fsmount=ok"
    assert_contains "$out" "attach=ok"
    assert_contains "$out" "mounted /mnt/new"
    assert_contains "$out" "fsopen-proc=ENOSYS"
    assert_contains "$out" "move-mask=ENOSYS"
    assert_contains "$out" "mounted /proc/acpi"
    assert_not_contains "$out" "mounted /mnt/moved"
}

test_mount_proc_in_a_chroot_without_proc() {
    # debootstrap's way: chroot into a tree with no /proc mounted, mount one there. It gets the
    # protections of the container's own /proc.
    local out; out=$(drun --rm $IMG sh -c "$OVERS"'
        mkdir -p /c/proc /c/bin && cp /bin/busybox /c/bin/ || exit 1
        chroot /c /bin/busybox mount -t proc proc /proc || exit 1
        overs /proc | grep -v "^sys fuse.sysboxfs " > /tmp/a; overs /c/proc > /tmp/b
        diff /tmp/a /tmp/b && echo same-view
        chroot /c /bin/busybox umount /proc/keys 2>/dev/null; echo umount-mask=$?
        chroot /c /bin/busybox umount /proc && echo umount-whole=0')
    assert_contains "$out" "same-view"
    assert_contains "$out" "umount-mask=1"
    assert_contains "$out" "umount-whole=0"
}

test_mount_emulation_in_many_containers_at_once() {
    # Each notify thread forks its own helpers: five containers emulating at once each get theirs.
    proc_mounts() {
        echo 'mkdir /m; i=0; while [ $i -lt 10 ]; do
                mount -t proc proc /m || exit 1
                grep -q " /m/keys " /proc/self/mountinfo || { echo "unmasked"; exit 1; }
                umount /m || exit 1; i=$((i+1)); done; echo done'
    }
    done_line() { echo done; }
    containers_at_once 5 proc_mounts done_line
}

test_tmpfs_bind_overlay_work_as_on_a_host() {
    local trace; trace=$(mktemp)
    trace_start "$trace" --json --syscall mount; local tp=$TRACE_PID
    local out; out=$(drun --rm $IMG sh -c 'mkdir /o && mount -t tmpfs t /o && mkdir /o/u /o/w /o/m &&
        mount -t overlay o -o lowerdir=/etc,upperdir=/o/u,workdir=/o/w /o/m && echo hi > /o/m/new && ls /o/u &&
        mkdir /b && mount --bind /o/m /b && cat /b/new && umount /b && umount /o/m && umount /o && echo all-ok')
    eventually '[ "$(grep -c emulated "$trace")" -ge 3 ]' 5
    kill $tp; wait $tp 2>/dev/null || true
    local verdicts; verdicts=$(jq -r .verdict "$trace" | sort -u); rm -f "$trace" "$trace.err"
    assert_eq "$out" "new
hi
all-ok"
    # Decided on the manager's copy of their arguments, so carried out by it too: never CONTINUEd.
    assert_eq "$verdicts" "emulated" "tmpfs, overlay and bind mounts are done by sysbox-mgr on its copy"
}

# Whether a process whose command line holds TEXT is in syscall NR (/proc/PID/syscall).
in_syscall() { # text nr
    local p; for p in $(pgrep -f "$1"); do [ "$(cut -d' ' -f1 "/proc/$p/syscall" 2>/dev/null)" = "$2" ] && return 0; done
    return 1
}

test_mgr_restart_keeps_traps() {
    drun -d --name e2e-mgrk $IMG sleep 1000 >/dev/null
    # A restart of sysbox-fs first changes nothing for the listeners (sysbox-keep holds them).
    kill_daemon fs KILL
    bash ../../scripts/daemons.sh start >/dev/null
    # A trapped call made while sysbox-mgr is down waits for the new one instead of failing. The
    # caller starts before the kill and makes its call once the host writes into a file it made
    # (an exec would need the manager; the host's root cannot create files in the id-mapped
    # rootfs, but may write one); the call is seen waiting in seccomp before the restart.
    docker exec -d e2e-mgrk sh -c ': > /tmp/go; while [ ! -s /tmp/go ]; do usleep 10000; done; hostname during-restart; echo $? > /tmp/rc'
    local root; root=/proc/$(docker inspect -f '{{.State.Pid}}' e2e-mgrk)/root
    eventually "[ -e $root/tmp/go ]" 10
    kill_daemon mgr KILL
    echo go > "$root/tmp/go"
    eventually 'in_syscall during-restart 170' 10   # sethostname, waiting for an answer
    [ ! -e "$root/tmp/rc" ] || fail "the trapped call was answered while sysbox-mgr was down"
    bash ../../scripts/daemons.sh start >/dev/null
    eventually "[ \"\$(cat $root/tmp/rc 2>/dev/null)\" = 0 ]" 10
    assert_eq "$(docker exec e2e-mgrk hostname)" "during-restart"
    # Calls made after the restart are answered too, by the rules of before.
    docker exec e2e-mgrk sh -c 'mkdir -p /m && mount -t tmpfs none /m && umount /m'
    if docker exec e2e-mgrk umount /proc 2>/dev/null; then fail "umount /proc succeeded after the restart"; fi
    assert_eq "$(docker exec e2e-mgrk sh -c 'hostname again; hostname')" "again"
    rmc e2e-mgrk
}

test_hostname_in_registry() {
    drun -d --name e2e-reg $IMG sh -c 'hostname reg-name; domainname reg-domain; sleep 1000' >/dev/null
    local id; id=$(cid e2e-reg)
    eventually "sysbox-mgr status | grep '^$id' | grep -q reg-name" 5
    # An inner UTS namespace's name is its own, not the container's.
    docker exec e2e-reg unshare -u sh -c 'hostname nested-name'
    assert_contains "$(sysbox-mgr status | grep "^$id")" "reg-name"
    assert_not_contains "$(sysbox-mgr status | grep "^$id")" "nested-name"
    rmc e2e-reg
}

test_newer_syscalls_get_enosys() {
    # Docker's default profile (an ERRNO default): every number above the highest it names gets
    # ENOSYS, named by libseccomp or not, as runc's stub gives; a denied known call keeps EPERM.
    local d; d=$(mktemp -d) && chmod 755 "$d"
    gcc -O2 -static -o "$d/newsyscall" probe/newsyscall.c || fail "probe did not build"
    local out; out=$(drun --rm -v "$d:/p:ro" $IMG /p/newsyscall)
    rm -rf "$d"
    assert_contains "$out" "999=ENOSYS"
    assert_contains "$out" "kexec_load=EPERM"
}

mgr_threads() { ls "/proc/$(cat "$SYSBOXD_STATE/mgr.pid")/task" | wc -l; }

test_mounts_of_one_container_are_answered_at_once() {
    # Eight threads of one container mount and unmount tmpfs at once: every call is answered,
    # sysbox-mgr answers them on more than the listener's one thread meanwhile, and those extra
    # threads end once the calls stop.
    local d; d=$(mktemp -d) && chmod 755 "$d"
    gcc -O2 -static -pthread -o "$d/loop" ../../bench/src/syscall-loop.c || fail "bench program did not build"
    local before; before=$(mgr_threads)
    drun -d --name e2e-mt -v "$d:/b:ro" $IMG /b/loop tmpfs-threads 8 400 > /dev/null
    local most=0 n i
    for i in $(seq 1 40); do
        n=$(mgr_threads); [ "$n" -gt "$most" ] && most=$n
        [ "$(docker inspect -f '{{.State.Running}}' e2e-mt)" = true ] || break
        sleep 0.1
    done
    assert_eq "$(docker wait e2e-mt)" "0"
    local out; out=$(docker logs e2e-mt 2>&1)
    rmc e2e-mt
    rm -rf "$d"
    [[ $out =~ ^[0-9.]+$ ]] || fail "the eight threads' loop printed no rate: $out"
    # Before: the daemon's own threads. During: the listener's thread and at least one more.
    [ "$most" -ge $((before + 2)) ] || fail "sysbox-mgr had at most $most threads during the burst, $before before: no extra thread answered"
    eventually '[ "$(mgr_threads)" -le "$before" ]' 10
}

t "the container's hostname is recorded in sysbox-mgr's registry (status), not an inner namespace's" test_hostname_in_registry
t "sysbox-mgr killed with SIGKILL and restarted: running containers' trapped calls wait, then are answered" test_mgr_restart_keeps_traps
t "sethostname is trapped, works inside, and show in sysbox-mgr trace" test_hostname_trapped_and_traced
t "umount2 cannot remove /, /proc, /sys or the masks over their files" test_protected_mounts_stay
t "a syscall newer than the seccomp profile gets ENOSYS, not the default errno" test_newer_syscalls_get_enosys
t "300 trapped calls in a row are all answered" test_many_trapped_calls_in_a_row
t "10 containers trapping at once each get their own answers" test_ten_containers_trap_concurrently
t "a policy can lock the hostname (EPERM)" test_locked_hostname_policy
t "docker exec processes get the same trap rules" test_exec_is_trapped_too
t "an unknown policy name fails docker run with one line" test_unknown_policy_is_one_error
t "mount -t proc inside gets every mount stacked below /proc, read-only when asked" test_mount_proc_gets_the_protected_view
t "mount -t sysfs inside gets every mount stacked below /sys" test_mount_sysfs_gets_the_protected_view
t "a bind of /proc keeps its masks" test_bind_of_proc_keeps_the_masks
t "tmpfs, overlay and bind mounts inside work as on a host (emulated on the copy)" test_tmpfs_bind_overlay_work_as_on_a_host
t "mount -t proc in a chroot with no /proc gets the container's protections" test_mount_proc_in_a_chroot_without_proc
t "initial read-only mounts and binds of them cannot be made read-write (EPERM)" test_readonly_mounts_stay_readonly
t "unshare -m, chroot and pivot_root inside keep the umount and remount rules" test_protection_in_nested_mount_namespaces
t "the policy's mount.allowed decides new mounts' types" test_mount_policy_allow_list
t "emulated mounts show in the trace and leave no helper process or fd" test_mount_emulation_is_traced_and_leaves_no_helpers
t "five containers emulating proc mounts at once each get theirs" test_mount_emulation_in_many_containers_at_once
t "stock runc and crun with listenerPath at sysbox-mgr get the same answers (OCI seccomp agent)" test_oci_agent_with_stock_runc_and_crun
t "eight threads of one container mounting at once are answered side by side; the extra threads end after" test_mounts_of_one_container_are_answered_at_once
t "the new mount API (fsopen, open_tree clones, mount_setattr) answers ENOSYS" test_new_mount_api_is_enosys
t "the new mount API makes and attaches a tmpfs; an attached mask is not moved by its fd" test_new_mount_api_makes_a_tmpfs_but_moves_no_mask

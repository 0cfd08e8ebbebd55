#!/usr/bin/env bash
# Root integration tests: drive sysbox-runc directly on a busybox bundle, as containerd would.
set -uo pipefail
cd "$(dirname "$0")"
. ../../scripts/env.sh
. ../lib.sh
ROOT=/run/sysboxd-it
RUNC="sysbox-runc --root $ROOT"
# Containers inherit the runtime's stdio (as under containerd): keep them off the test's pipes.
quiet() { "$@" </dev/null >/dev/null 2>>"$WORK/stderr"; }
ROOTFS=/var/lib/sysboxd-test/busybox
WORK=$(mktemp -d /tmp/sysboxd-it.XXXXXX)
chmod 711 "$WORK"   # hooks run by the container's root write under it
trap 'rm -rf "$WORK"' EXIT
# Every container a case made goes, even when the case failed half-way; and those of an
# interrupted earlier run.
after_case() {
    local c; for c in $($RUNC list -q 2>/dev/null); do $RUNC delete --force "$c"; done
    declare -F ext_down >/dev/null && ext_down
    rm -f /etc/sysbox/policies/it-dns.json
}
after_case

# Edits a bundle's config.json with jq (the arguments after the bundle are jq's).
spec_edit() { local b=$1; shift; jq "$@" "$b/config.json" > "$b/c.json" && mv "$b/c.json" "$b/config.json"; }

# A bundle whose rootfs is a copy of the busybox tree, running ARGS.
bundle() { # name args-json
    local b=$WORK/$1
    mkdir -p "$b"
    [ -d "$b/rootfs" ] || cp -a "$ROOTFS" "$b/rootfs"
    rm -f "$b/config.json"
    (cd "$b" && sysbox-runc spec)
    spec_edit "$b" --argjson a "$2" '.process.args = $a | .process.terminal = false | .root.readonly = false'
    echo "$b"
}

# `delete ..` once removed the parent of the state root: every verb must refuse such ids first.
test_invalid_ids_touch_nothing() {
    local parent; parent=$(mktemp -d)
    mkdir "$parent/root"; echo keep > "$parent/victim"
    local verb id out
    for verb in "delete" "delete --force" "state" "kill" "start" "pause" "resume" "ps"; do
        for id in .. ../victim . "a/b"; do
            if out=$(sysbox-runc --root "$parent/root" $verb "$id" 2>&1); then fail "$verb $id succeeded"; fi
            assert_contains "$out" "invalid container id" "($verb $id)"
        done
    done
    out=$(cd "$WORK" && sysbox-runc --root "$parent/root" create --bundle "$WORK" ../victim 2>&1) && fail "create ../victim succeeded"
    assert_contains "$out" "invalid container id"
    assert_eq "$(cat "$parent/victim")" "keep"
    assert_eq "$(ls "$parent/root" | wc -l)" "0"
    rm -rf "$parent"
}

status_of() { $RUNC state "$1" | jq -r .status; }

test_create_start_delete() {
    local b; b=$(bundle life '["sleep","1000"]')
    quiet $RUNC create --bundle "$b" --pid-file "$WORK/life.pid" it-life
    assert_eq "$(status_of it-life)" "created"
    local pid; pid=$(cat "$WORK/life.pid")
    [ "$(tail -c 1 "$WORK/life.pid" | od -An -c | tr -d ' ')" != '\n' ] || fail "pid file ends with a newline"
    assert_eq "$($RUNC state it-life | jq -r .pid)" "$pid"
    $RUNC start it-life
    assert_eq "$(status_of it-life)" "running"
    assert_eq "$($RUNC ps --format json it-life | jq length)" "1"
    assert_contains "$($RUNC list)" "it-life"
    $RUNC kill it-life 9
    eventually '[ "$(status_of it-life)" = stopped ]'
    $RUNC delete it-life
    assert_no_leftovers it-life "$ROOT"
}

test_named_signal_and_force_delete() {
    # PID 1 gets only the signals it handles: trap TERM.
    local b; b=$(bundle sig '["sh","-c","trap \"exit 0\" TERM; while :; do sleep 0.1; done"]')
    quiet $RUNC run -d --bundle "$b" it-sig
    assert_eq "$(status_of it-sig)" "running"
    set +e; $RUNC delete it-sig 2>/dev/null; local rc=$?; set -e
    [ $rc -ne 0 ] || fail "deleting a running container must fail without --force"
    $RUNC kill it-sig SIGTERM
    eventually '[ "$(status_of it-sig)" = stopped ]'
    $RUNC delete it-sig
    quiet $RUNC run -d --bundle "$b" it-force
    $RUNC delete --force it-force
    # As runc: --force on a container that is not there is not an error; without it, it is.
    $RUNC delete --force it-never-created
    set +e; $RUNC delete it-never-created 2>/dev/null; rc=$?; set -e
    assert_ne "$rc" "0" "delete of a missing container succeeded"
    assert_no_leftovers it-force "$ROOT"
}

test_exec_and_run() {
    local b; b=$(bundle ex '["sleep","1000"]')
    quiet $RUNC run -d --bundle "$b" it-ex
    assert_eq "$($RUNC exec it-ex sh -c 'echo $((6*7))')" "42"
    set +e; $RUNC exec it-ex sh -c 'exit 5'; local rc=$?; set -e
    assert_eq "$rc" "5"
    quiet $RUNC exec --detach --pid-file "$WORK/ex.pid" it-ex sleep 30
    [ -s "$WORK/ex.pid" ] || fail "exec pid file missing"
    assert_eq "$($RUNC ps --format json it-ex | jq length)" "2"
    $RUNC delete --force it-ex
    local fg; fg=$(bundle fg '["sh","-c","echo fg; exit 3"]')
    set +e; local out; out=$($RUNC run --bundle "$fg" it-fg); rc=$?; set -e
    assert_eq "$out" "fg"
    assert_eq "$rc" "3"
    assert_no_leftovers it-fg "$ROOT"
}

test_pause_resume_update_events() {
    local b; b=$(bundle pr '["sleep","1000"]')
    quiet $RUNC run -d --bundle "$b" it-pr
    $RUNC pause it-pr
    assert_eq "$(status_of it-pr)" "paused"
    $RUNC resume it-pr
    assert_eq "$(status_of it-pr)" "running"
    echo '{"memory":{"limit":67108864},"pids":{"limit":50}}' | $RUNC update --resources - it-pr
    assert_eq "$(cat /sys/fs/cgroup/memory/sysbox/it-pr/memory.limit_in_bytes)" "67108864"
    assert_eq "$(cat /sys/fs/cgroup/pids/sysbox/it-pr/pids.max)" "50"
    $RUNC update --pids-limit 60 it-pr
    assert_eq "$(cat /sys/fs/cgroup/pids/sysbox/it-pr/pids.max)" "60"
    local ev; ev=$($RUNC events --stats it-pr)
    assert_eq "$(echo "$ev" | jq -r .type)" "stats"
    assert_eq "$(echo "$ev" | jq -r .data.pids.current)" "1"
    $RUNC delete --force it-pr
    assert_no_leftovers it-pr "$ROOT"
}

test_failed_create_leaves_nothing() {
    local b; b=$(bundle bad '["true"]')
    spec_edit "$b" '.root.path = "/nonexistent-rootfs"'
    set +e; local out; out=$($RUNC --log "$WORK/bad.log" --log-format json create --bundle "$b" it-bad 2>&1); local rc=$?; set -e
    [ $rc -ne 0 ] || fail "create with a missing rootfs succeeded"
    assert_contains "$(tail -1 "$WORK/bad.log" | jq -r .level)" "error"
    assert_contains "$(tail -1 "$WORK/bad.log" | jq -r .msg)" "rootfs"
    assert_no_leftovers it-bad "$ROOT"
    # A failure inside init (a missing command) also leaves nothing behind.
    b=$(bundle bad2 '["/no/such/binary"]')
    set +e; quiet $RUNC create --bundle "$b" it-bad2; rc=$?; set -e
    [ $rc -ne 0 ] || fail "create with a missing command succeeded"
    assert_no_leftovers it-bad2 "$ROOT"
}

test_cli_contract() {
    assert_contains "$(sysbox-runc --version | head -1)" "sysbox-runc version"
    assert_eq "$(sysbox-runc features | jq -r .linux.seccomp.enabled)" "true"
    set +e; $RUNC state no-such-container 2>/dev/null; local rc=$?; set -e
    [ $rc -ne 0 ] || fail "state of a missing container succeeded"
    local b; b=$(bundle flags '["sleep","1000"]')
    quiet sysbox-runc --root=$ROOT --log-format=json create --bundle=$b --pid-file=$WORK/flags.pid it-flags
    assert_eq "$(status_of it-flags)" "created"
    $RUNC delete --force it-flags
    assert_no_leftovers it-flags "$ROOT"
}

test_user_and_caps() {
    local b; b=$(bundle caps '["sh","-c","id -u; grep CapEff /proc/self/status; cat /proc/self/uid_map"]')
    local out; out=$($RUNC run --bundle "$b" it-caps)
    assert_eq "$(echo "$out" | head -1)" "0"
    assert_contains "$out" "000001ffffffffff"
    assert_contains "$out" "65536"
    assert_no_leftovers it-caps "$ROOT"
}

# kubelet with hostUsers: false (and Docker's userns-remap) gives the spec its own id mappings, and
# id-mapped bind mounts with the same mappings: both are honoured as given.
test_spec_id_mappings_honoured() {
    local b; b=$(bundle mapped '["sh","-c","cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /data/owned; id -u"]')
    local data=$WORK/mapped-data map='[{"containerID":0,"hostID":1000000000,"size":65536}]'
    # On disk, ids are the container's (an idmapped mount maps them to the range): uid 1000 shows
    # as 1000 inside only through the mount's id mapping (plain, host uid 1000 is outside the range).
    mkdir -p "$data" && touch "$data/owned" && chown 1000:1000 "$data/owned"
    spec_edit "$b" --arg d "$data" --argjson m "$map" '.linux.uidMappings = $m | .linux.gidMappings = $m
        | .mounts += [{destination: "/data", type: "bind", source: $d, options: ["rbind", "idmap"], uidMappings: $m, gidMappings: $m}]'
    local out; out=$($RUNC run --bundle "$b" it-mapped 2>&1) || fail "run: $out"
    assert_eq "$(echo "$out" | sed -n 1p | tr -s ' ')" " 0 1000000000 65536"
    assert_eq "$(echo "$out" | sed -n 2p | tr -s ' ')" " 0 1000000000 65536"
    assert_eq "$(echo "$out" | sed -n 3p)" "1000:1000" "the id-mapped bind does not show the mapped owner"
    assert_eq "$(echo "$out" | sed -n 4p)" "0"
    rm -rf "$data"
    assert_no_leftovers it-mapped "$ROOT"
}

test_hooks_all_kinds() {
    local out=$WORK/hooks; mkdir -p "$out"; chmod 1777 "$out"
    local b; b=$(bundle hooks '["sh","-c","echo main > /tmp/main-ran"]')
    local h; h() { jq -n --arg k "$1" --arg d "$2" '{path:"/bin/sh", args:["sh","-c",("cat > " + $d + "/" + $k + ".json; if [ -e .it-rootfs-marker ]; then echo rootfs > " + $d + "/" + $k + ".cwd; fi")]}'; }
    spec_edit "$b" --argjson a "$(h prestart "$out")" --argjson b "$(h createRuntime "$out")" --argjson c "$(h createContainer "$out")" \
       --argjson d "$(h startContainer /tmp)" --argjson e "$(h poststart "$out")" --argjson f "$(h poststop "$out")" \
       '.hooks = {prestart:[$a], createRuntime:[$b], createContainer:[$c], startContainer:[$d], poststart:[$e], poststop:[$f]}'
    touch "$b/rootfs/.it-rootfs-marker"
    $RUNC run --bundle "$b" it-hooks </dev/null >/dev/null 2>"$WORK/hooks.err" || fail "run with hooks: $(cat "$WORK/hooks.err")"
    for k in prestart createRuntime createContainer poststart poststop; do
        [ -s "$out/$k.json" ] || fail "$k hook did not run"
        assert_eq "$(jq -r .id "$out/$k.json")" "it-hooks" "state on stdin of $k"
    done
    assert_eq "$(jq -r .status "$out/createRuntime.json")" "creating"
    # createContainer runs in the container's rootfs (its id-mapped view), before pivot_root, as
    # runc runs it: relative paths name the container's files.
    assert_eq "$(cat "$out/createContainer.cwd" 2>/dev/null)" "rootfs"
    [ -s "$b/rootfs/tmp/startContainer.json" ] || fail "startContainer hook did not run inside the container"
    assert_eq "$(cat "$b/rootfs/tmp/main-ran")" "main"
    assert_no_leftovers it-hooks "$ROOT"
}

# A prestart hook named network-only in the policy (Docker's libnetwork-setkey) starts as soon as
# the namespaces exist; the hooks after it still wait for it, in order; its failure fails create.
test_network_only_hook_order_and_failure() {
    local out=$WORK/nethook; mkdir -p "$out"; chmod 1777 "$out"
    local b; b=$(bundle nethook '["true"]')
    # The early hook sees init's network namespace (state.pid) and takes a while; the next one
    # must only start once it has finished.
    cat > "$out/early.sh" <<EOS
p=\$(jq -r .pid); readlink /proc/\$p/ns/net > $out/early-netns; sleep 0.3; date +%s%N > $out/early-done
EOS
    cat > "$out/late.sh" <<EOS
cat >/dev/null; date +%s%N > $out/late-start
EOS
    spec_edit "$b" --arg e "$out/early.sh" --arg l "$out/late.sh" \
       '.hooks = {prestart:[{path:"/bin/sh", args:["libnetwork-setkey", $e]}, {path:"/bin/sh", args:["sh", $l]}]}'
    quiet $RUNC create --bundle "$b" it-nethook || fail "create with a network-only hook: $(tail -3 "$WORK/stderr")"
    local pid; pid=$($RUNC state it-nethook | jq -r .pid)
    assert_eq "$(cat "$out/early-netns" 2>/dev/null)" "$(readlink /proc/$pid/ns/net)" "the early hook saw init's network namespace"
    [ "$(cat "$out/late-start")" -ge "$(cat "$out/early-done")" ] || fail "the second prestart hook started before the first had finished"
    quiet $RUNC delete --force it-nethook
    assert_no_leftovers it-nethook "$ROOT"

    early=$(jq -n '{path:"/bin/sh", args:["libnetwork-setkey","-c","cat >/dev/null; exit 7"]}')
    spec_edit "$b" --argjson a "$early" '.hooks = {prestart:[$a]}'
    set +e; local err; err=$($RUNC --log "$WORK/nethook.log" --log-format json create --bundle "$b" it-nethook 2>&1 </dev/null); local rc=$?; set -e
    [ $rc -ne 0 ] || fail "create succeeded although its network-only hook failed"
    assert_contains "$err" "prestart hook \"/bin/sh\" failed: exit status 7"
    assert_no_leftovers it-nethook "$ROOT"
}

test_rlimits_no_pivot_domainname() {
    local b; b=$(bundle misc '["sh","-c","ulimit -n; cat /proc/sys/kernel/domainname"]')
    spec_edit "$b" '.process.rlimits = [{"type":"RLIMIT_NOFILE","soft":512,"hard":512}] | .domainname = "example.org"'
    local out; out=$($RUNC run --no-pivot --bundle "$b" it-misc)
    assert_eq "$(echo "$out" | head -1)" "512"
    assert_eq "$(echo "$out" | sed -n 2p)" "example.org"
    assert_no_leftovers it-misc "$ROOT"
}

test_chown_fallback() {
    local b; b=$(bundle chown '["sh","-c","stat -c %u:%g /bin/busybox; touch /made-by-root; sleep 1000"]')
    SYSBOX_ROOTFS_SHIFT=chown quiet $RUNC run -d --bundle "$b" it-chown
    local start; start=$($RUNC exec it-chown cat /proc/self/uid_map | awk '{print $2}')
    assert_eq "$(stat -c %u "$b/rootfs/bin/busybox")" "$start" "shifted on disk while it runs"
    assert_eq "$($RUNC exec it-chown stat -c %u:%g /bin/busybox)" "0:0"
    $RUNC delete --force it-chown
    assert_eq "$(stat -c %u "$b/rootfs/bin/busybox")" "0" "shifted back on delete"
    assert_eq "$(stat -c %u "$b/rootfs/made-by-root")" "0"
    assert_no_leftovers it-chown "$ROOT"
}

# A chowned rootfs holds one container's range: a second container on the same rootfs is refused
# with one line (and leaves nothing), and runs once the first is deleted.
test_chown_rootfs_serves_one_container() {
    local b; b=$(bundle chown1 '["sleep","1000"]')
    SYSBOX_ROOTFS_SHIFT=chown quiet $RUNC run -d --bundle "$b" it-chown1
    local start; start=$(stat -c %u "$b/rootfs/bin/busybox")
    set +e; local out; out=$(SYSBOX_ROOTFS_SHIFT=chown $RUNC run -d --bundle "$b" it-chown2 2>&1); local rc=$?; set -e
    [ $rc -ne 0 ] || fail "a second container ran on a chowned rootfs"
    assert_contains "$out" "is chown-shifted for container it-chown1"
    assert_eq "$(echo "$out" | grep -c .)" "1" "$out"
    assert_eq "$(stat -c %u "$b/rootfs/bin/busybox")" "$start" "the refused container moved the owners"
    assert_no_leftovers it-chown2 "$ROOT"
    $RUNC delete --force it-chown1
    SYSBOX_ROOTFS_SHIFT=chown quiet $RUNC run -d --bundle "$b" it-chown2
    assert_eq "$($RUNC exec it-chown2 stat -c %u:%g /bin/busybox)" "0:0"
    $RUNC delete --force it-chown2
    assert_eq "$(stat -c %u "$b/rootfs/bin/busybox")" "0"
    assert_no_leftovers it-chown2 "$ROOT"
}

test_terminal_without_console_socket() {
    local b; b=$(bundle term '["sh"]')
    spec_edit "$b" '.process.terminal = true'
    set +e
    local out; out=$(printf 'tty; echo term-$((1+1))\nexit 4\n' | script -qec "$RUNC run --bundle $b it-term" /dev/null | tr -d '\r')
    set -e
    assert_contains "$out" "/dev/pts/0"
    assert_contains "$out" "term-2"
    assert_no_leftovers it-term "$ROOT"
}

test_ranges_exhausted() {
    # A manager of its own whose sysbox entries hold exactly one range.
    local d=$WORK/mgr; mkdir -p "$d"
    echo "sysbox:100000:65536" > "$d/subuid"; echo "sysbox:100000:65536" > "$d/subgid"
    sysbox-mgr --socket "$d/mgr.sock" --data-root "$d/data" --subuid-file "$d/subuid" --subgid-file "$d/subgid" \
        --log "$d/log" </dev/null >/dev/null 2>&1 &
    local mgr=$!
    # Stopped however the case ends (it runs in a subshell of its own).
    trap "rc=\$?; set +e; kill $mgr 2>/dev/null; wait $mgr 2>/dev/null; exit \$rc" EXIT
    eventually "[ -S $d/mgr.sock ]"
    local b; b=$(bundle one '["sleep","1000"]')
    SYSBOX_MGR_SOCKET=$d/mgr.sock quiet $RUNC run -d --bundle "$b" it-one
    set +e; local out; out=$(SYSBOX_MGR_SOCKET=$d/mgr.sock $RUNC run -d --bundle "$b" it-two 2>&1 </dev/null); local rc=$?; set -e
    SYSBOX_MGR_SOCKET=$d/mgr.sock $RUNC delete --force it-one
    kill $mgr; wait $mgr || true
    [ $rc -ne 0 ] || fail "a second container got a range from a full pool"
    assert_contains "$out" "no free id range"
    assert_contains "$out" "enlarge the sysbox entry"
    assert_no_leftovers it-two "$ROOT"
}

test_preserve_fds_and_propagation() {
    local b; b=$(bundle fds '["sh","-c","cat /proc/self/fd/3; awk \"\\$5 == \\\"/\\\"\" /proc/self/mountinfo | grep -c shared:"]')
    spec_edit "$b" '.linux.rootfsPropagation = "shared"'
    echo preserved > "$WORK/fd3"
    local out; out=$($RUNC run --preserve-fds 1 --bundle "$b" it-fds 3<"$WORK/fd3")
    assert_eq "$(echo "$out" | head -1)" "preserved"
    assert_eq "$(echo "$out" | sed -n 2p)" "1"
    assert_no_leftovers it-fds "$ROOT"
}

test_cgroup_v2() {
    # This host runs its controllers on cgroup v1; a private mount namespace with the cgroup2
    # hierarchy at /sys/fs/cgroup is a pure-v2 host for the runtime (no memory/cpu controllers
    # there, but the core files: procs, freeze, kill, delegation).
    local b; b=$(bundle v2 '["sh","-c","mkdir /sys/fs/cgroup/sub && echo $$ > /sys/fs/cgroup/sub/cgroup.procs && echo delegated; cat /proc/self/cgroup; sleep 1000"]')
    cat > "$WORK/v2.sh" <<EOF
set -e
umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup
$RUNC run -d --bundle "$b" it-v2 </dev/null > "$WORK/v2.out" 2>&1
for i in \$(seq 50); do grep -q "^0::" "$WORK/v2.out" && break; sleep 0.1; done
cat /sys/fs/cgroup/sysbox/it-v2/cgroup.procs | wc -l > "$WORK/v2.procs"
$RUNC pause it-v2; cat /sys/fs/cgroup/sysbox/it-v2/cgroup.freeze > "$WORK/v2.frozen"; $RUNC state it-v2 | jq -r .status > "$WORK/v2.state"
$RUNC resume it-v2; cat /sys/fs/cgroup/sysbox/it-v2/cgroup.freeze > "$WORK/v2.thawed"
$RUNC delete --force it-v2
[ ! -e /sys/fs/cgroup/sysbox/it-v2 ] && echo gone > "$WORK/v2.gone"
EOF
    unshare -m --propagation slave bash "$WORK/v2.sh" || fail "v2 script failed: $(cat "$WORK/v2.out" 2>/dev/null)"
    assert_contains "$(cat "$WORK/v2.out")" "delegated"
    # Inside its cgroup namespace the container sees itself at the root of the hierarchy.
    assert_contains "$(cat "$WORK/v2.out")" "0::/sub"
    assert_eq "$(cat "$WORK/v2.procs")" "0"   # all moved to the container's own sub-cgroup
    assert_eq "$(cat "$WORK/v2.frozen")" "1"
    assert_eq "$(cat "$WORK/v2.state")" "paused"
    assert_eq "$(cat "$WORK/v2.thawed")" "0"
    assert_eq "$(cat "$WORK/v2.gone")" "gone"
    [ ! -e /sys/fs/cgroup/unified/sysbox/it-v2 ] || fail "v2 cgroup remains"
    assert_no_leftovers it-v2 "$ROOT"
}

# runc's contract, as its own bats files check it (issue-by-issue defects of runc 1.1's suite).
test_runc_contract_frozen_cgroup() {
    # run -d into a cgroup that is already frozen fails at once, as runc's does (no hang), and
    # leaves that cgroup alone.
    local cg=/sys/fs/cgroup/freezer/it-frozen-$$
    mkdir "$cg" && echo FROZEN > "$cg/freezer.state"
    local b; b=$(bundle fz '["true"]')
    spec_edit "$b" --arg p "/it-frozen-$$" '.linux.cgroupsPath = $p'
    set +e; local out; out=$(timeout 30 $RUNC run -d --bundle "$b" it-fz 2>&1 </dev/null); local rc=$?; set -e
    echo THAWED > "$cg/freezer.state"
    [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "run into a frozen cgroup: rc $rc ($out)"
    assert_contains "$out" "unexpectedly frozen"
    [ -d "$cg" ] || fail "the frozen cgroup made beforehand was removed"
    rmdir "$cg"
    assert_no_leftovers it-fz "$ROOT"
}

test_runc_contract_nonempty_cgroup() {
    # A cgroup that already has processes: runc 1.1 warns and goes on (1.2 will refuse).
    local cg=/sys/fs/cgroup/pids/it-busy-$$
    mkdir "$cg"
    sleep 1000 & local s=$!
    echo $s > "$cg/cgroup.procs"
    local b; b=$(bundle busy '["true"]')
    spec_edit "$b" --arg p "/it-busy-$$" '.linux.cgroupsPath = $p'
    set +e; local out; out=$($RUNC run --bundle "$b" it-busy 2>&1 </dev/null); local rc=$?; set -e
    kill $s 2>/dev/null || true; wait $s 2>/dev/null || true
    rmdir "$cg" 2>/dev/null || true
    assert_eq "$rc" "0"
    assert_contains "$out" "container's cgroup is not empty: 1 process(es) found"
    assert_no_leftovers it-busy "$ROOT"
}

test_runc_contract_mounts() {
    # A read-only /dev still gets its mount points and devices, and ends read-only.
    local b; b=$(bundle rodev '["sh","-c","ls /dev/pts/ptmx /dev/null >/dev/null && touch /dev/x 2>/dev/null; echo touch=$?"]')
    spec_edit "$b" '(.mounts[] | select(.destination == "/dev") | .options) += ["ro"]'
    assert_eq "$($RUNC run --bundle "$b" it-rodev 2>&1 </dev/null)" "touch=1"
    # rbind,rro: read-only below the top mount too (mount_setattr AT_RECURSIVE).
    mkdir -p "$WORK/rro/sub" && mount -t tmpfs t "$WORK/rro/sub"
    b=$(bundle rro '["sh","-c","touch /data/sub/f 2>/dev/null; echo sub=$?; touch /data/f 2>/dev/null; echo top=$?"]')
    spec_edit "$b" --arg s "$WORK/rro" '.mounts += [{"destination":"/data","type":"bind","source":$s,"options":["rbind","rro"]}]'
    local out; out=$($RUNC run --bundle "$b" it-rro 2>&1 </dev/null)
    umount "$WORK/rro/sub"
    assert_eq "$(echo $out)" "sub=1 top=1"
    # A profile that denies chdir: the cwd is entered before the filter is loaded, as runc does.
    b=$(bundle nochdir '["pwd"]')
    spec_edit "$b" '.process.cwd = "/tmp" | .linux.seccomp = {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chdir","fchdir"],"action":"SCMP_ACT_ERRNO"}]}'
    assert_eq "$($RUNC run --bundle "$b" it-nochdir 2>&1 </dev/null)" "/tmp"
}

test_runc_contract_verbs() {
    local b; b=$(bundle verbs '["sleep","1000"]')
    quiet $RUNC run -d --bundle "$b" it-verbs
    # ps with separate options (PID is still found), kill 0 (is it alive?).
    local out; out=$($RUNC ps it-verbs -e -x)
    assert_contains "$(echo "$out" | head -1)" "PID"
    assert_contains "$out" "sleep 1000"
    $RUNC kill it-verbs 0 || fail "kill 0 of a running container failed"
    # --debug shows exec's steps, as runc's does.
    assert_contains "$($RUNC --debug exec it-verbs true 2>&1 </dev/null)" "exec step done"
    # update takes -1 (unlimited) as a value.
    $RUNC update --memory-swap -1 --cpu-quota -1 --pids-limit -1 it-verbs || fail "update with -1 failed"
    assert_eq "$(cat /sys/fs/cgroup/pids/sysbox/it-verbs/pids.max)" "max"
    # exec -p of a process.json without "user": 0:0.
    echo '{"args":["id","-u"],"cwd":"/","env":["PATH=/bin"]}' > "$WORK/proc.json"
    assert_eq "$($RUNC exec -p "$WORK/proc.json" it-verbs </dev/null)" "0"
    # An exec that cannot finish starting exits 255, as runc's: a pid file in a missing directory.
    local rc
    set +e; out=$($RUNC exec --pid-file "$WORK/no/such/dir/pid" it-verbs true 2>&1 </dev/null); rc=$?; set -e
    assert_eq "$rc" "255"
    # exec into a paused container: refused with runc's 255, unless --ignore-paused.
    $RUNC pause it-verbs
    set +e; out=$($RUNC exec it-verbs true 2>&1 </dev/null); rc=$?; set -e
    assert_eq "$rc" "255"
    assert_contains "$out" "paused"
    # With --ignore-paused it runs: frozen with the rest until the container is resumed.
    $RUNC exec --ignore-paused it-verbs sh -c 'echo ran > /tmp/ignored' </dev/null >/dev/null 2>&1 & local ex=$!
    sleep 1
    $RUNC resume it-verbs
    wait $ex || fail "exec --ignore-paused failed"
    assert_eq "$($RUNC exec it-verbs cat /tmp/ignored </dev/null)" "ran"
    # exec --cgroup: a sub-cgroup of the container's; none other.
    mkdir /sys/fs/cgroup/pids/sysbox/it-verbs/sub
    assert_contains "$($RUNC exec --cgroup pids:sub it-verbs cat /proc/self/cgroup </dev/null)" ":pids:/sub"
    set +e; out=$($RUNC exec --cgroup ../.. it-verbs true 2>&1 </dev/null); rc=$?; set -e
    assert_eq "$rc" "255"
    # A user's terminal belongs to the user (runc chowns stdio before it switches). `script` fed
    # from /dev/null sends an end-of-input byte through the terminal, which comes back raw or
    # echoed (`^@`) depending on timing: the owner is read from between markers.
    out=$(script -qec "$RUNC exec -t --user 1000 it-verbs sh -c 'echo \"<\$(stat -c %u /proc/self/fd/0)>\"'" /dev/null </dev/null | tr -d '\r\0' | grep -o '<[0-9]*>' || true)
    assert_eq "$out" "<1000>"
    $RUNC delete --force it-verbs
    assert_no_leftovers it-verbs "$ROOT"
}

# The standalone network: an outside world the test makes (a namespace holding an HTTP server at
# 198.51.100.2, reached from the host's 198.51.100.1): nothing leaves this machine.
EXT_NS=sbxit-ext
ext_up() {
    ip netns add $EXT_NS
    ip link add itext0 type veth peer name eth0 netns $EXT_NS
    ip addr add 198.51.100.1/24 dev itext0 && ip link set itext0 up
    ip -n $EXT_NS addr add 198.51.100.2/24 dev eth0 && ip -n $EXT_NS link set eth0 up && ip -n $EXT_NS link set lo up
    mkdir -p "$WORK/ext" && echo outside > "$WORK/ext/index.html"
    ip netns exec $EXT_NS busybox httpd -f -vv -p 80 -h "$WORK/ext" 2>"$WORK/ext.log" & echo $! > "$WORK/ext.pids"
}
# Cases run in subshells: what they start is found again through $WORK/ext.pids.
ext_down() {
    local p; for p in $(cat "$WORK/ext.pids" 2>/dev/null); do kill "$p" 2>/dev/null; done
    rm -f "$WORK/ext.pids"
    ip link del itext0 2>/dev/null || true; ip netns del $EXT_NS 2>/dev/null || true
}
http_get() { printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 "$1" "$2" | tail -1; }
addr_of() { $RUNC exec "$1" ip -4 -o addr show eth0 </dev/null | awk '{print $4}'; }
# What the standalone network leaves: links, the bridge, the sysboxd table, DOCKER-USER rules, leases.
assert_no_network_left() {
    local links; links=$(ip -br link | awk '{print $1}' | grep -E '^(sbx[0-9a-f]{12}|sysbox0)' || true)
    [ -z "$links" ] || fail "links remain: $links"
    if nft list table ip sysboxd >/dev/null 2>&1; then fail "table ip sysboxd remains"; fi
    if iptables -S DOCKER-USER 2>/dev/null | grep -q sysboxd; then fail "DOCKER-USER rules remain"; fi
    assert_eq "$(cat /var/lib/sysbox/network.json)" "[]"
}

test_standalone_network() {
    ext_up
    local b1 b2 web
    b1=$(bundle net1 '["sleep","1000"]'); b2=$(bundle net2 '["sleep","1000"]')
    web=$(bundle netweb '["sh","-c","mkdir -p /www && echo web > /www/index.html && exec httpd -f -p 80 -h /www"]')
    spec_edit "$web" '.annotations = {"io.sysboxd.net.publish": "18080:80/tcp"}'
    quiet $RUNC run -d --bundle "$b1" it-net1
    quiet $RUNC run -d --bundle "$b2" it-net2
    quiet $RUNC run -d --bundle "$web" it-netweb
    local a1 a2 aw; a1=$(addr_of it-net1); a2=$(addr_of it-net2); aw=$(addr_of it-netweb)
    assert_contains "$a1" "10.77."; assert_contains "$a1" "/16"
    assert_ne "$a1" "$a2"
    # Each other, the bridge, the host, and a default route through the bridge.
    assert_contains "$($RUNC exec it-net2 ping -c1 -W2 "${a1%/*}" </dev/null)" "1 packets received"
    assert_contains "$($RUNC exec it-net1 ping -c1 -W2 10.77.0.1 </dev/null)" "1 packets received"
    assert_contains "$(busybox ping -c1 -W2 "${a1%/*}")" "1 packets received"
    assert_contains "$($RUNC exec it-net1 ip route </dev/null)" "default via 10.77.0.1 dev eth0"
    # resolv.conf: the host's name servers, no local stub.
    local ns; ns=$(grep '^nameserver' /etc/resolv.conf | grep -v ' 127\.' | head -1)
    [ -z "$ns" ] || assert_contains "$($RUNC exec it-net1 cat /etc/resolv.conf </dev/null)" "$ns"
    # NAT: the outside server answers, and sees the host's address, not the container's.
    assert_eq "$($RUNC exec it-net1 sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 198.51.100.2 80 | tail -1" </dev/null)" "outside"
    assert_contains "$(cat "$WORK/ext.log")" "198.51.100.1"
    assert_not_contains "$(cat "$WORK/ext.log")" "${a1%/*}"
    # The published port, from the host and from outside.
    eventually "[ \"\$(http_get 198.51.100.1 18080)\" = web ]" 5
    assert_eq "$(ip netns exec $EXT_NS sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | busybox nc -w 3 198.51.100.1 18080 | tail -1")" "web"
    assert_contains "$(sysbox-mgr status)" "${aw} on sysbox0 18080->80/tcp"
    # A second container asking for the same host port is refused, with nothing left of it.
    local dup; dup=$(bundle netdup '["sleep","1000"]')
    spec_edit "$dup" '.annotations = {"io.sysboxd.net.publish": "18080:81"}'
    local out; out=$($RUNC run -d --bundle "$dup" it-netdup 2>&1 </dev/null) && fail "a second publish of 18080 was accepted"
    assert_contains "$out" "host port 18080/tcp is already published by container it-netweb"
    assert_no_leftovers it-netdup "$ROOT"
    # An address released is given again, with the same MAC: reachable at once.
    $RUNC delete --force it-net1
    assert_no_leftovers it-net1 "$ROOT"
    quiet $RUNC run -d --bundle "$b1" it-net1
    assert_eq "$(addr_of it-net1)" "$a1"
    assert_contains "$(busybox ping -c1 -W2 "${a1%/*}")" "1 packets received"
    for c in it-net1 it-net2 it-netweb; do $RUNC delete --force $c; assert_no_leftovers $c "$ROOT"; done
    assert_no_network_left
    ext_down
}

# resolv.conf works: the policy's name server, in the outside namespace, answers through NAT.
test_network_dns() {
    ext_up
    ip netns exec $EXT_NS python3 dns.py 198.51.100.2 203.0.113.7 & echo $! >> "$WORK/ext.pids"
    local pol=/etc/sysbox/policies/it-dns.json
    jq '.network.dns = ["198.51.100.2"]' /etc/sysbox/policies/default.json > "$pol"
    local b; b=$(bundle netdns '["sleep","1000"]')
    spec_edit "$b" '.annotations = {"io.sysboxd.policy": "it-dns"}'
    quiet $RUNC run -d --bundle "$b" it-netdns
    assert_contains "$($RUNC exec it-netdns cat /etc/resolv.conf </dev/null)" "nameserver 198.51.100.2"
    local out; out=$($RUNC exec it-netdns nslookup web.example.test </dev/null 2>&1)
    assert_contains "$out" "203.0.113.7"
    $RUNC delete --force it-netdns
    rm -f "$pol"
    assert_no_leftovers it-netdns "$ROOT"
    assert_no_network_left
    ext_down
}

test_network_opt_out_and_errors() {
    local b; b=$(bundle netoff '["sleep","1000"]')
    spec_edit "$b" '.annotations = {"io.sysboxd.net": "none"}'
    quiet $RUNC run -d --bundle "$b" it-netoff
    assert_eq "$($RUNC exec it-netoff ls /sys/class/net </dev/null | tr '\n' ' ')" "lo "
    $RUNC delete --force it-netoff
    # Bad settings: one line, nothing made.
    spec_edit "$b" '.annotations = {"io.sysboxd.net.address": "10.78.0.9"}'
    local out; out=$($RUNC run -d --bundle "$b" it-netbad 2>&1 </dev/null) && fail "an address outside the subnet was accepted"
    assert_contains "$out" "io.sysboxd.net.address=10.78.0.9 is not a host address of subnet 10.77.0.0/16"
    assert_no_leftovers it-netbad "$ROOT"
    spec_edit "$b" '.annotations = {"io.sysboxd.net.publish": "80"}'
    out=$($RUNC run -d --bundle "$b" it-netbad 2>&1 </dev/null) && fail "a malformed publish was accepted"
    assert_contains "$out" "io.sysboxd.net.publish: "
    assert_contains "$out" "80"
    assert_contains "$out" " is not HOSTPORT:PORT[/tcp|/udp] (give a list such as 8080:80/tcp"
    assert_no_leftovers it-netbad "$ROOT"
    assert_no_network_left
}

test_network_survives_a_killed_manager() {
    local b; b=$(bundle netkill '["sleep","1000"]')
    quiet $RUNC run -d --bundle "$b" it-netkill
    local a; a=$(addr_of it-netkill)
    kill -KILL "$(cat "$SYSBOXD_STATE/mgr.pid")"
    bash ../../scripts/daemons.sh start >/dev/null
    # The container's network is untouched, its lease and rules kept by the next manager.
    assert_contains "$(busybox ping -c1 -W2 "${a%/*}")" "1 packets received"
    assert_contains "$(sysbox-mgr status)" "${a} on sysbox0"
    nft list table ip sysboxd >/dev/null || fail "the sysboxd table went with the manager"
    $RUNC delete --force it-netkill
    assert_no_leftovers it-netkill "$ROOT"
    assert_no_network_left
}

test_twenty_in_parallel() {
    # A bundle each: under the chown shift (a cell of the matrix) a rootfs serves one container.
    local i pids=""
    for i in $(seq 1 20); do bundle "netpar$i" '["sleep","1000"]' >/dev/null; done
    for i in $(seq 1 20); do quiet $RUNC run -d --bundle "$WORK/netpar$i" "it-par$i" & pids="$pids $!"; done
    local p; for p in $pids; do wait "$p" || fail "a parallel run failed: $(tail -3 "$WORK/stderr")"; done
    local addrs; addrs=$(for i in $(seq 1 20); do addr_of "it-par$i"; done | sort)
    assert_eq "$(echo "$addrs" | grep -c 10.77.)" "20"
    assert_eq "$(echo "$addrs" | sort -u | wc -l)" "20"
    for i in $(seq 1 20); do $RUNC delete --force "it-par$i" & done; wait
    for i in $(seq 1 20); do assert_no_leftovers "it-par$i" "$ROOT"; done
    assert_no_network_left
}

t "an id outside runc's rule is refused by every verb and touches nothing" test_invalid_ids_touch_nothing
t "create, state, start, ps, list, kill, delete" test_create_start_delete
t "named signals; delete needs --force while running" test_named_signal_and_force_delete
t "exec (foreground, exit code, detached) and foreground run" test_exec_and_run
t "pause, resume, update (stdin and flags), events --stats" test_pause_resume_update_events
t "a failed create logs one JSON error line and leaves nothing" test_failed_create_leaves_nothing
t "--flag=value forms, --version, features, state errors" test_cli_contract
t "root with full capabilities in a 65536-id user namespace" test_user_and_caps
t "spec id mappings and id-mapped binds (kubelet hostUsers: false) are honoured as given" test_spec_id_mappings_honoured
t "all six hook kinds run, with the state on stdin" test_hooks_all_kinds
t "a network-only prestart hook runs early, in order; its failure fails create" test_network_only_hook_order_and_failure
t "rlimits, --no-pivot and domainname" test_rlimits_no_pivot_domainname
t "chown fallback shifts the rootfs and shifts it back on delete" test_chown_fallback
t "a chowned rootfs serves one container: a second is refused in one line, then runs after the first" test_chown_rootfs_serves_one_container
t "run with a terminal and no --console-socket proxies the pty" test_terminal_without_console_socket
t "exhausted id ranges: one clear error, nothing left behind" test_ranges_exhausted
t "--preserve-fds and rootfsPropagation" test_preserve_fds_and_propagation
t "cgroup v2: own cgroup, delegation, freeze for pause, removal" test_cgroup_v2
t "runc contract: run into a frozen cgroup fails at once" test_runc_contract_frozen_cgroup
t "runc contract: a non-empty cgroup is warned about" test_runc_contract_nonempty_cgroup
t "runc contract: read-only /dev, rro, a profile denying chdir" test_runc_contract_mounts
t "runc contract: ps -e -x, kill 0, update -1, exec -p without user, --ignore-paused, --cgroup, tty owner" test_runc_contract_verbs
t "standalone network: addresses, each other, the host, NAT out, a published port, reuse" test_standalone_network
t "standalone network: resolv.conf names the policy's server, which answers through NAT" test_network_dns
t "standalone network: opt-out, bad settings refused with nothing made" test_network_opt_out_and_errors
t "standalone network: sysbox-mgr killed with SIGKILL keeps it; delete removes it" test_network_survives_a_killed_manager
t "standalone network: twenty containers at once get twenty addresses, all released" test_twenty_in_parallel
ext_down >/dev/null 2>&1
rm -f /etc/sysbox/policies/it-dns.json
rmdir "$ROOT" 2>/dev/null || true
summary

# sysbox-mgr and sysbox-fs killed with SIGKILL (what an OOM kill, `systemctl restart` gone wrong or a
# package upgrade does) under running containers: alone, one after the other, and both at once.
# Running containers keep their virtual files and their trapped calls; calls made meanwhile wait and
# complete; nothing is left half-done. CRASH_ROUNDS and CRASH_CONTAINERS make it longer.

CRASH_ROUNDS=${CRASH_ROUNDS:-3}
CRASH_CONTAINERS=${CRASH_CONTAINERS:-4}

# Each container reads its virtual meminfo and makes a trapped call (umount2 of a path that does not
# exist: sysbox-mgr answers ENOENT, a lost listener would say ENOSYS) in a loop, and counts what
# failed: a read that says "Transport endpoint is not connected", a trapped call not answered.
crash_start() {
    local i
    for i in $(seq 1 "$CRASH_CONTAINERS"); do
        drun -d --name "e2e-crash-$i" $IMG sh -c 'while :; do
            grep -q ^MemTotal /proc/meminfo || echo meminfo >> /tmp/failed
            umount /nonexistent 2>&1 | grep -q "No such file" || echo trapped >> /tmp/failed
            usleep 20000; done' >/dev/null
    done
}

crash_check() { # round mode
    local i out
    for i in $(seq 1 "$CRASH_CONTAINERS"); do
        out=$(timeout -k 5 20 docker exec "e2e-crash-$i" sh -c 'head -1 /proc/meminfo; hostname r'"$1"' && hostname; umount /proc 2>&1; cat /tmp/failed 2>/dev/null | sort | uniq -c' 2>&1) ||
            fail "$2 round $1: container $i did not answer: $out"
        assert_contains "$out" "MemTotal:" "$2 round $1, container $i: its virtual meminfo"
        assert_contains "$out" "r$1" "$2 round $1, container $i: a trapped sethostname"
        assert_contains "$out" "Device or resource busy" "$2 round $1, container $i: umount /proc still refused by sysbox-mgr"
        assert_not_contains "$out" "meminfo" "$2 round $1, container $i: a read of meminfo failed meanwhile"
        assert_not_contains "$out" "trapped" "$2 round $1, container $i: a trapped call failed meanwhile"
    done
    # A create after the restart is served as before.
    out=$(drun --rm $IMG sh -c 'head -1 /proc/meminfo; hostname fresh && hostname')
    assert_contains "$out" "MemTotal:"
    assert_contains "$out" "fresh"
}


crash_kill() { # mode
    local m f killed; m=$(cat "$SYSBOXD_STATE/mgr.pid"); f=$(cat "$SYSBOXD_STATE/fs.pid")
    case $1 in
        mgr) killed="$m" ;;
        fs) killed="$f" ;;
        sequence) kill -KILL "$m"; eventually "gone $m" 5; killed="$f" ;;
        both) killed="$m $f" ;;
        keep) # sysbox-keep restarted on its own is given everything again; then both daemons die.
            kill_daemon keep KILL
            bash ../../scripts/daemons.sh start >/dev/null
            local i; for i in $(seq 1 "$CRASH_CONTAINERS"); do
                local id; id=$(cid "e2e-crash-$i")
                eventually "sysbox-keep list --socket $KEEP_SOCK | grep -q '^fuse/$id/\$'" 10
                eventually "sysbox-keep list --socket $KEEP_SOCK | grep -q '^listener/$id/'" 10
            done
            killed="$m $f" ;;
    esac
    kill -KILL $killed
    local p; for p in $killed; do eventually "gone $p" 5; done
    bash ../../scripts/daemons.sh start >/dev/null
}

crash_cleanup() { docker ps -aq --filter name=e2e-crash- | xargs -r docker rm -f >/dev/null 2>&1 || true; }

# A steady stream beside the kills: one create after another (each reads its virtual meminfo and
# makes a trapped call) and, with a running container named, an exec into it after each create.
# Results go to DIR/creates and DIR/execs, a line each; outputs to DIR/c<N>.out and DIR/e<N>.out.
stream_start() { # dir [container to exec into]
    local dir=$1 target=$2
    (
        n=0
        while [ ! -e "$dir/stop" ]; do
            n=$((n + 1))
            if timeout -k 5 120 docker run --runtime="$RT" --pull=never --name "e2e-crash-s$n" $IMG \
                sh -c 'head -1 /proc/meminfo; hostname h && hostname' > "$dir/c$n.out" 2>&1
            then echo ok >> "$dir/creates"; else echo "fail $?" >> "$dir/creates"; fi
            [ -n "$target" ] || continue
            if timeout -k 5 120 docker exec "$target" sh -c 'head -1 /proc/uptime; hostname' > "$dir/e$n.out" 2>&1
            then echo ok >> "$dir/execs"; else echo "fail $?" >> "$dir/execs"; fi
        done
    ) </dev/null >/dev/null 2>&1 & echo $! > "$dir/pid"
    # However the case ends, the stream stops (it would hold the case's output pipe open).
    trap "touch '$dir/stop' 2>/dev/null || true; crash_cleanup" EXIT
}

# Stops the stream and checks it: nothing hung, each success saw what it should, each failure
# named the daemon it could not use.
stream_stop() { # dir
    local dir=$1
    touch "$dir/stop"
    wait "$(cat "$dir/pid")" 2>/dev/null || true
    local daemon="(cannot reach sysbox-(mgr|fs)|sysbox-(mgr|fs) closed the connection before answering)"
    assert_eq "$(cat "$dir/creates" "$dir/execs" 2>/dev/null | grep -c '^fail 124$' || true)" "0" "(creates or execs that hung for 120 s)"
    local i
    for i in $(seq 1 "$(wc -l < "$dir/creates")"); do
        if [ "$(sed -n "${i}p" "$dir/creates")" = ok ]; then
            assert_contains "$(head -1 "$dir/c$i.out")" "MemTotal:" "(create $i)"
            assert_eq "$(tail -1 "$dir/c$i.out")" "h" "(create $i)"
        else
            head -1 "$dir/c$i.out" | grep -Eq "OCI runtime create failed: $daemon" ||
                fail "create $i failed without saying which daemon: $(head -1 "$dir/c$i.out")"
        fi
    done
    [ -e "$dir/execs" ] || return 0
    for i in $(seq 1 "$(wc -l < "$dir/execs")"); do
        if [ "$(sed -n "${i}p" "$dir/execs")" = ok ]; then
            assert_contains "$(head -1 "$dir/e$i.out")" "." "(exec $i: its uptime)"
        else
            grep -Eq "$daemon" "$dir/e$i.out" || fail "exec $i failed without saying which daemon: $(head -3 "$dir/e$i.out")"
        fi
    done
}

# Once the stack is up again, nothing of the stream's containers remains, failed creates included
# (an id range a failed create took is freed once its runtime state has been gone for a minute).
stream_gone() { # dir
    local ids; ids=$(docker ps -aq --no-trunc --filter name=e2e-crash-s)
    crash_cleanup
    drun --rm $IMG true
    local id; for id in $ids; do
        eventually "! grep -q $id /proc/self/mountinfo" 10
        eventually "! sysbox-mgr status 2>/dev/null | grep -q $id" 90
        assert_no_leftovers "$id" "$STATE_ROOT"
    done
}

crash_case() { # mode
    # Every container of the case goes, even when it fails (the case runs in a subshell).
    crash_cleanup
    trap crash_cleanup EXIT
    crash_start
    local dir; dir=$(mktemp -d)
    stream_start "$dir" e2e-crash-1
    local r
    for r in $(seq 1 "$CRASH_ROUNDS"); do
        crash_kill "$1"
        crash_check "$r" "$1"
    done
    stream_stop "$dir"
    local i; for i in $(seq 1 "$CRASH_CONTAINERS"); do rmc "e2e-crash-$i"; done
    stream_gone "$dir"
    echo "$1: $CRASH_ROUNDS rounds x $CRASH_CONTAINERS containers, 0 failed reads or trapped calls;" \
        "creates $(grep -c '^ok$' "$dir/creates" || true) ok of $(wc -l < "$dir/creates")," \
        "execs $(grep -c '^ok$' "$dir/execs" || true) ok of $(wc -l < "$dir/execs"), none hung, nothing left"
    rm -rf "$dir"
}

test_crash_mgr() { crash_case mgr; }
test_crash_fs() { crash_case fs; }
test_crash_sequence() { crash_case sequence; }
test_crash_both() { crash_case both; }
test_crash_keep() { crash_case keep; }

# Creates go on while both daemons are killed again and again: each create succeeds or fails with
# a message, none hangs, the daemons always come back, and nothing of a failed create remains.
test_kill_during_creates() {
    local dir; dir=$(mktemp -d)
    crash_cleanup
    stream_start "$dir" ""
    local k; for k in 1 2 3 4 5; do sleep 3; crash_kill both; done
    stream_stop "$dir"
    local ok total; ok=$(grep -c '^ok$' "$dir/creates" || true); total=$(wc -l < "$dir/creates")
    echo "$ok of $total creates succeeded while both daemons were killed 5 times"
    [ "$ok" -ge $((total / 3)) ] || fail "only $ok of $total creates succeeded"
    stream_gone "$dir"
    rm -rf "$dir"
}

# A trapped call taken by a manager that is then killed is no longer pending for its listener: the
# next manager answers it from the in-flight log sysbox-keep holds, or its caller would wait forever.
test_call_in_flight_is_answered_after_a_kill() {
    local bin; bin=$(mktemp -d)
    gcc -O2 -o "$bin/catch" probe/catch.c
    drun -d --name e2e-inflight $IMG sh -c 'mkdir /m; i=0; while :; do mount -t proc p /m && umount /m; i=$((i+1)); echo $i > /tmp/count; done' >/dev/null
    eventually '[ "$(docker exec e2e-inflight cat /tmp/count 2>/dev/null || echo 0)" -gt 5 ]' 10
    local m h c1 try; m=$(cat "$SYSBOXD_STATE/mgr.pid")
    # Freeze a helper mid-call: the container's loop then stands still. A helper caught for
    # another caller (a container of an earlier case still stopping) leaves the loop running:
    # let it go and catch again.
    for try in 1 2 3 4 5; do
        h=$(timeout 30 "$bin/catch" "$m") || fail "no mount helper seen"
        c1=$(docker exec e2e-inflight cat /tmp/count)
        sleep 0.5
        [ "$(docker exec e2e-inflight cat /tmp/count)" = "$c1" ] && break
        kill -CONT "$h" 2>/dev/null || true
        h=""
    done
    [ -n "$h" ] || fail "the loop went on with its call unanswered in 5 catches"
    kill -KILL "$m" "$h"
    eventually "gone $m" 5
    bash ../../scripts/daemons.sh start >/dev/null
    eventually '[ "$(docker exec e2e-inflight cat /tmp/count)" -gt "$c1" ]' 10
    grep -q "answered a trapped call left unanswered" "$SYSBOXD_STATE/sysbox-mgr.log" || fail "the new sysbox-mgr did not say it answered the call"
    rm -rf "$bin"
    rmc e2e-inflight
}

t "a trapped call in flight when sysbox-mgr is killed is answered by the next one" test_call_in_flight_is_answered_after_a_kill
t "sysbox-mgr killed (SIGKILL) under running containers: nothing they do fails" test_crash_mgr
t "sysbox-fs killed (SIGKILL) under running containers: nothing they do fails" test_crash_fs
t "sysbox-mgr then sysbox-fs killed: nothing running containers do fails" test_crash_sequence
t "sysbox-mgr and sysbox-fs killed at once: virtual files and traps survive (sysbox-keep)" test_crash_both
t "sysbox-keep killed and restarted alone is given everything again; then both daemons killed" test_crash_keep
t "creates go on while both daemons are killed 5 times: none hangs, nothing left" test_kill_during_creates

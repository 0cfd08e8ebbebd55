# Many creators at once: LOAD_CREATORS parallel loops of LOAD_PER containers each, every one making
# trapped calls (sethostname, an emulated tmpfs mount and umount2) and reading its virtual files, every
# fifth one detached with a docker exec in it. No create may fail and nothing may be left behind.

LOAD_CREATORS=${LOAD_CREATORS:-8}
LOAD_PER=${LOAD_PER:-6}

load_creator() { # n out
    local i fails=0 name
    for i in $(seq 1 "$LOAD_PER"); do
        name=e2e-load-$1-$i
        if [ $((i % 5)) = 0 ]; then
            if drun -d --name "$name" $IMG sleep 1000 >/dev/null 2>>"$2.err" &&
               docker exec "$name" sh -c 'hostname ex && mkdir -p /m && mount -t tmpfs t /m && umount /m && grep -q ^MemTotal /proc/meminfo' 2>>"$2.err"; then :
            else fails=$((fails + 1)); fi
            docker rm -f "$name" >/dev/null 2>&1 || fails=$((fails + 1))
        else
            drun --rm --name "$name" $IMG sh -c 'hostname c && mkdir /m && mount -t tmpfs t /m && umount /m && grep -q ^MemTotal /proc/meminfo' \
                2>>"$2.err" || fails=$((fails + 1))
        fi
    done
    echo "$fails" > "$2"
}

test_parallel_creators_leave_nothing() {
    local dir; dir=$(mktemp -d)
    local ranges_before; ranges_before=$(sysbox-mgr status | grep -c . || true)
    local n pids=()
    for n in $(seq 1 "$LOAD_CREATORS"); do load_creator "$n" "$dir/$n" & pids+=($!); done
    for n in "${pids[@]}"; do wait "$n"; done
    local total=0 f
    for f in "$dir"/[0-9]*; do case $f in *.err) ;; *) total=$((total + $(cat "$f"))) ;; esac; done
    local errs; errs=$(cat "$dir"/*.err 2>/dev/null | head -5)
    rm -rf "$dir"
    echo "$LOAD_CREATORS creators x $LOAD_PER containers: $total failed"
    assert_eq "$total" "0" "failed creates or execs: $errs"
    # Nothing of them is left: containers, ranges, virtual files, mounts, staging, kept fds.
    assert_eq "$(docker ps -aq --filter name=e2e-load- | wc -l)" "0"
    eventually "[ \"\$(sysbox-mgr status | grep -c . || true)\" = $ranges_before ]" 30
    eventually '[ -z "$(ls /var/lib/sysboxfs)" ]' 30
    eventually '! grep -q "sysboxfs/\|sysbox-staging" /proc/self/mountinfo' 30
    [ -z "$(ls /run/sysbox-staging 2>/dev/null)" ] || fail "staging left: $(ls /run/sysbox-staging)"
    eventually '! sysbox-keep list --socket "$KEEP_SOCK" | grep -q "^fuse/\|^listener/"' 30
}

t "parallel creators: $LOAD_CREATORS x $LOAD_PER containers with trapped calls and execs, none fails, nothing left" test_parallel_creators_leave_nothing

# Detached containers: exec, logs, signals, stop, restart, pause, top.

test_exec_logs() {
    drun -d --name e2e-exec $IMG sh -c 'echo started; sleep 1000' >/dev/null
    assert_eq "$(docker exec e2e-exec echo from-exec)" "from-exec"
    assert_eq "$(docker exec e2e-exec sh -c 'id -u')" "0"
    eventually '[ "$(docker logs e2e-exec)" = started ]'
    local out; out=$(printf 'echo in-exec-tty\nexit\n' | script -qec "docker exec -it e2e-exec sh" /dev/null | tr -d '\r')
    assert_contains "$out" "in-exec-tty"
    rmc e2e-exec
}

test_signals() {
    drun -d --name e2e-sig $IMG sh -c 'trap "echo got-usr1" USR1; trap "echo got-term; exit 3" TERM; echo trapping; while true; do sleep 0.1; done' >/dev/null
    eventually 'docker logs e2e-sig | grep -q trapping'
    docker kill -s USR1 e2e-sig >/dev/null
    eventually 'docker logs e2e-sig | grep -q got-usr1'
    docker kill -s TERM e2e-sig >/dev/null
    eventually '[ "$(docker inspect -f {{.State.Running}} e2e-sig)" = false ]'
    assert_eq "$(docker inspect -f '{{.State.ExitCode}}' e2e-sig)" "3"
    rmc e2e-sig
}

test_stop_restart() {
    drun -d --name e2e-stop $IMG sleep 1000 >/dev/null
    docker stop -t 1 e2e-stop >/dev/null
    assert_eq "$(docker inspect -f '{{.State.Running}}' e2e-stop)" "false"
    docker restart -t 1 e2e-stop >/dev/null
    assert_eq "$(docker inspect -f '{{.State.Running}}' e2e-stop)" "true"
    assert_eq "$(docker exec e2e-stop echo alive)" "alive"
    rmc e2e-stop
}

test_pause() {
    drun -d --name e2e-pause $IMG sh -c 'while true; do date +%s%N > /tmp/tick; sleep 0.05; done' >/dev/null
    docker pause e2e-pause >/dev/null
    assert_eq "$(docker inspect -f '{{.State.Status}}' e2e-pause)" "paused"
    local pid; pid=$(docker inspect -f '{{.State.Pid}}' e2e-pause)
    local a b; a=$(cat /proc/$pid/root/tmp/tick); sleep 0.5; b=$(cat /proc/$pid/root/tmp/tick)
    assert_eq "$a" "$b" "a frozen container does not tick"
    docker unpause e2e-pause >/dev/null
    assert_eq "$(docker inspect -f '{{.State.Status}}' e2e-pause)" "running"
    rmc e2e-pause
}

test_top_stats() {
    drun -d --name e2e-top $IMG sleep 1000 >/dev/null
    assert_contains "$(docker top e2e-top)" "sleep 1000"
    local out; out=$(docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' e2e-top)
    assert_contains "$out" "e2e-top"
    rmc e2e-top
}

t "-d, docker exec (plain and -it) and docker logs" test_exec_logs
t "docker kill -s delivers named signals" test_signals
t "docker stop and restart" test_stop_restart
t "docker pause and unpause freeze the container" test_pause
t "docker top and docker stats" test_top_stats

#!/usr/bin/env bash
# The test matrix (docs/testing.md): each cell is a set of axis values and the steps that show
# them. scripts/test.sh sources this file; run_cells runs cells one after the other, each from a
# clean state (the daemons restarted with the cell's settings exported, nothing of the last cell
# left), and prints a table of results. A failing cell names its failed tests; every step's log is
# kept under $MATRIX_LOGS/<cell>/.
#
# A cell: "name|axis values|where|steps".
# - axis values: shift (idmap, chown), frontend (docker, ctr, runc), image (busybox, bookworm,
#   trixie, sid), policy (default, no-traps, locked-hostname), driver (cgroupfs, systemd), cgroup
#   (v1, v2-view, v2);
# - where: ci (in .ci/run and the hosted workflow), local (on demand: `--matrix`, `--cell`), hosted
#   (only on the hosted runners: a pure cgroup v2 host);
# - steps: format (swift format lint), workflow (actionlint on .github/workflows), unit, integration,
#   e2e[:suite,...], system:release,... (the per-image system cases), install (the systemd host with
#   the package).
# The settings a cell exports come from its axes: shift=chown sets SYSBOX_ROOTFS_SHIFT=chown,
# policy=P sets SYSBOX_POLICY=P (both read from the runtime's own env, which dockerd and containerd
# pass down), cgroup=v2-view alone sets SYSBOX_CGROUP=v2.
MATRIX_CELLS=(
    "base|shift=idmap frontend=docker,ctr,runc image=busybox,bookworm,trixie,sid policy=default driver=cgroupfs cgroup=v1,v2-view|ci|format workflow unit integration e2e"
    "systemd-host|shift=idmap frontend=docker image=busybox,bookworm policy=default driver=systemd cgroup=v1|ci|install"
    "chown-docker|shift=chown frontend=docker image=busybox,bookworm policy=default driver=cgroupfs cgroup=v1|ci|e2e:cell.sh,basic.sh,lifecycle.sh,userns.sh,procfs.sh system:bookworm"
    "chown-ctr|shift=chown frontend=ctr image=busybox policy=default driver=cgroupfs cgroup=v1|ci|e2e:cell.sh,ctr.sh,network.sh"
    "chown-runc|shift=chown frontend=runc image=busybox policy=default driver=cgroupfs cgroup=v1|ci|integration"
    "no-traps|shift=idmap frontend=docker,ctr image=busybox,bookworm policy=no-traps driver=cgroupfs cgroup=v1|ci|e2e:cell.sh,basic.sh,lifecycle.sh,ctr.sh system:bookworm"
    "locked-hostname|shift=idmap frontend=docker image=busybox policy=locked-hostname driver=cgroupfs cgroup=v1|ci|e2e:cell.sh,basic.sh,lifecycle.sh,procfs.sh"
    "chown-new-images|shift=chown frontend=docker image=trixie,sid policy=default driver=cgroupfs cgroup=v1,v2-view|local|system:trixie,sid"
    "v2-view|shift=idmap frontend=docker image=busybox policy=default driver=cgroupfs cgroup=v2-view|local|e2e:cell.sh,basic.sh,lifecycle.sh,procfs.sh"
    "v2-host|shift=idmap frontend=docker,ctr,runc image=busybox,bookworm,trixie,sid policy=default driver=cgroupfs cgroup=v2|hosted|unit integration e2e"
)
MATRIX_LOGS=${MATRIX_LOGS:-/var/tmp/sysboxd-matrix}
# The test daemons' sockets and the private dockerd (DOCKER_HOST), for the leftover checks.
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

cell_name() { echo "${1%%|*}"; }
cell_axes() { echo "$1" | cut -d'|' -f2; }
cell_where() { echo "$1" | cut -d'|' -f3; }
cell_steps() { echo "$1" | cut -d'|' -f4; }
# The values a cell has on one axis, comma-separated.
cell_axis() { local a; for a in $(cell_axes "$1"); do [ "${a%%=*}" = "$2" ] && echo "${a#*=}"; done; }

# Whether a cell matches a spec: a cell name, or axis=value pairs joined by commas (every pair must
# be among the cell's values), e.g. shift=chown,frontend=ctr.
cell_matches() { # cell spec
    local cell=$1 spec=$2
    [ "$(cell_name "$cell")" = "$spec" ] && return 0
    case $spec in *=*) ;; *) return 1 ;; esac
    local pair key value
    for pair in ${spec//,/ }; do
        key=${pair%%=*} value=${pair#*=}
        case ",$(cell_axis "$cell" "$key")," in *",$value,"*) ;; *) return 1 ;; esac
    done
}

# The cells a selection names: ci, all-local (ci and local), or a spec (see cell_matches).
select_cells() { # selection
    local cell where
    for cell in "${MATRIX_CELLS[@]}"; do
        where=$(cell_where "$cell")
        case $1 in
            ci) [ "$where" = ci ] || continue ;;
            all-local) [ "$where" != hosted ] || continue ;;
            *) cell_matches "$cell" "$1" || continue ;;
        esac
        echo "$cell"
    done
}

# Exports the cell's settings (and clears those it does not set).
cell_env() {
    unset SYSBOX_ROOTFS_SHIFT SYSBOX_POLICY SYSBOX_CGROUP
    [ "$(cell_axis "$1" shift)" = chown ] && export SYSBOX_ROOTFS_SHIFT=chown
    local policy; policy=$(cell_axis "$1" policy)
    case $policy in "" | default) ;; *) export SYSBOX_POLICY=$policy ;; esac
    [ "$(cell_axis "$1" cgroup)" = v2-view ] && export SYSBOX_CGROUP=v2
    return 0
}

# Runs one step, its output to the terminal and to its log; sets STEP_PASSED, STEP_FAILED and
# appends the names of failed tests to $dir/failed.
run_step() { # step dir
    local step=$1 dir=$2 log rc
    log=$dir/${step//[:,]/_}.log
    echo "== [$CELL] $step"
    case $step in
        format)
            local findings; findings=$(swift format lint --strict -r Sources Tests Package.swift 2>&1)
            [ -z "$findings" ] || echo "$findings" | head -50 | tee "$log"
            echo "format: $(echo -n "$findings" | grep -c . || true) findings (fix with: swift format -i -r Sources Tests Package.swift)" | tee -a "$log"
            if [ -z "$findings" ]; then STEP_PASSED=1 STEP_FAILED=0; else STEP_PASSED=0 STEP_FAILED=1; echo "format findings" >> "$dir/failed"; fi
            return ;;
        workflow)
            local out; out=$(actionlint .github/workflows/*.yml 2>&1); rc=$?
            [ -z "$out" ] || echo "$out" | tee "$log"
            echo "workflow: actionlint $([ $rc -eq 0 ] && echo "finds nothing" || echo "exited $rc")" | tee -a "$log"
            if [ $rc -eq 0 ]; then STEP_PASSED=1 STEP_FAILED=0; else STEP_PASSED=0 STEP_FAILED=1; echo "workflow: actionlint" >> "$dir/failed"; fi
            return ;;
        unit)
            swift test 2>&1 | tee "$log" | grep -vE '^\[[0-9]+/[0-9]+\]|^(Compiling|Building|Write|Emitting|Linking)'
            rc=${PIPESTATUS[0]}
            # Swift Testing's summary: "Test run with N tests in M suites passed|failed after ...";
            # each failed test: "✘ Test name() failed after ...".
            local total; total=$(sed -n 's/.*Test run with \([0-9]*\) tests.*/\1/p' "$log" | tail -1)
            grep -E '^✘ Test .* failed after' "$log" | grep -v '^✘ Test run with' | sed 's/^✘ Test //; s/ failed after.*//; s/^/unit: /' >> "$dir/failed"
            STEP_FAILED=$(grep -E '^✘ Test .* failed after' "$log" | grep -vc '^✘ Test run with' || true)
            if [ "$rc" -ne 0 ] && [ "$STEP_FAILED" -eq 0 ]; then STEP_FAILED=1; echo "unit: swift test exited $rc" >> "$dir/failed"; fi
            STEP_PASSED=$(( ${total:-0} - STEP_FAILED )); [ "$STEP_PASSED" -ge 0 ] || STEP_PASSED=0
            return ;;
        integration) bash tests/integration/run.sh 2>&1 | tee "$log" ;;
        e2e) bash tests/e2e/run.sh 2>&1 | tee "$log" ;;
        e2e:*) E2E_SUITES=$(echo "${step#e2e:}" | tr ',' ' ') bash tests/e2e/run.sh 2>&1 | tee "$log" ;;
        system:*) E2E_SUITES=system.sh SYSTEM_EXTRAS=0 SYSTEM_IMAGES=$(echo "${step#system:}" | tr ',' ' ') bash tests/e2e/run.sh 2>&1 | tee "$log" ;;
        install) bash tests/install/run.sh 2>&1 | tee "$log" ;;
        *) echo "unknown step $step" | tee "$log"; STEP_PASSED=0 STEP_FAILED=1; echo "unknown step $step" >> "$dir/failed"; return ;;
    esac
    rc=${PIPESTATUS[0]}
    local line; line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
    STEP_PASSED=${line%% passed*}; STEP_PASSED=${STEP_PASSED:-0}
    STEP_FAILED=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed$/\1/p'); STEP_FAILED=${STEP_FAILED:-0}
    sed -n "s/^not ok - /$step: /p" "$log" >> "$dir/failed"
    if [ "$rc" -ne 0 ] && [ "$STEP_FAILED" -eq 0 ]; then STEP_FAILED=1; echo "$step: exited $rc without a failed test (log: $log)" >> "$dir/failed"; fi
}

# What a cell may not leave: registered containers, FUSE mounts, test containers, network leases.
cell_leftovers() {
    local out=""
    [ -z "$(sysbox-mgr status 2>/dev/null | tail -n +2)" ] || out="$out; containers still registered: $(sysbox-mgr status | tail -n +2 | cut -f1 | tr '\n' ' ')"
    grep -q ' /var/lib/sysboxfs/' /proc/self/mountinfo && out="$out; FUSE mounts remain under /var/lib/sysboxfs"
    [ -z "$(docker ps -aq 2>/dev/null)" ] || out="$out; containers remain in the test dockerd: $(docker ps -a --format '{{.Names}}' | tr '\n' ' ')"
    grep -q '"id"' /var/lib/sysbox/network.json 2>/dev/null && out="$out; network leases remain"
    echo "${out#; }"
}

# Runs the given cells (lines as in MATRIX_CELLS) and prints the table; returns non-zero if a
# cell failed.
run_cells() {
    local cells=("$@") cell results=() status=0 total_passed=0 total_failed=0
    rm -rf "$MATRIX_LOGS" && mkdir -p "$MATRIX_LOGS"
    for cell in "${cells[@]}"; do
        CELL=$(cell_name "$cell")
        local dir=$MATRIX_LOGS/$CELL start passed=0 failed=0 step
        mkdir -p "$dir" && : > "$dir/failed"
        start=$(date +%s)
        echo "=== cell $CELL ($(cell_axes "$cell"))"
        bash scripts/daemons.sh stop >/dev/null 2>&1
        cell_env "$cell"
        if ! bash scripts/daemons.sh start > "$dir/daemons.log" 2>&1; then
            cat "$dir/daemons.log"; echo "daemons: could not start with the cell's settings" >> "$dir/failed"; failed=1
        else
            for step in $(cell_steps "$cell"); do
                run_step "$step" "$dir"
                passed=$((passed + STEP_PASSED)) failed=$((failed + STEP_FAILED))
            done
        fi
        local left; left=$(cell_leftovers)
        if [ -n "$left" ]; then echo "cell $CELL left: $left" | tee -a "$dir/failed"; failed=$((failed + 1)); fi
        bash scripts/daemons.sh stop >/dev/null 2>&1
        cell_env ""
        results+=("$CELL|$passed|$failed|$(( $(date +%s) - start ))")
        total_passed=$((total_passed + passed)) total_failed=$((total_failed + failed))
        [ "$failed" -eq 0 ] || status=1
    done
    echo
    echo "== matrix (logs: $MATRIX_LOGS/<cell>/)"
    printf '%-18s %8s %8s %8s\n' cell passed failed seconds
    local r
    for r in "${results[@]}"; do IFS='|' read -r c p f s <<< "$r"; printf '%-18s %8s %8s %8s\n' "$c" "$p" "$f" "$s"; done
    for r in "${results[@]}"; do
        IFS='|' read -r c p f s <<< "$r"
        [ "$f" -eq 0 ] || { echo "failed in $c:"; sed 's/^/  /' "$MATRIX_LOGS/$c/failed"; }
    done
    echo "$total_passed passed, $total_failed failed"
    return $status
}

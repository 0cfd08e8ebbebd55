#!/usr/bin/env bash
# Start latency of `docker run --rm IMAGE true` under sysbox-runc, runc and crun, interleaved in one
# run (round robin, after warm-ups), printing medians and ratios against runc and crun.
# Needs the daemons of scripts/daemons.sh. crun refuses a hybrid host whose cgroup2 hierarchy holds
# a controller (see docs/troubleshooting.md); it is then left out, and this script never moves a
# controller between v1 and v2 to please it. START_SAMPLES=FILE: every sample, "runtime<TAB>seconds".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROUNDS=${ROUNDS:-15}
runtimes="sysbox-runc runc"
if docker run --rm --pull=never --runtime=crun "$BUSYBOX_IMAGE" true >/dev/null 2>&1; then
    runtimes+=" crun"
else
    echo "crun cannot run here (a controller on the cgroup2 hierarchy?): left out"
fi
declare -A samples
one() { # runtime -> seconds
    local t0 t1
    t0=$(date +%s%N)
    docker run --rm --pull=never --runtime="$1" "$BUSYBOX_IMAGE" true >/dev/null
    t1=$(date +%s%N)
    echo "scale=4; ($t1 - $t0) / 1000000000" | bc
}
for rt in $runtimes; do one "$rt" >/dev/null; one "$rt" >/dev/null; done
for i in $(seq 1 "$ROUNDS"); do
    for rt in $runtimes; do samples[$rt]+="$(one "$rt") "; done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A med
for rt in $runtimes; do med[$rt]=$(echo "${samples[$rt]}" | median); printf '%-12s median %.3f s over %d runs\n' "$rt" "${med[$rt]}" "$ROUNDS"; done
printf 'ratio sysbox-runc/runc: %.2f\n' "$(echo "${med[sysbox-runc]} / ${med[runc]}" | bc -l)"
if [ -n "${med[crun]:-}" ]; then
    printf 'ratio sysbox-runc/crun: %.2f\n' "$(echo "${med[sysbox-runc]} / ${med[crun]}" | bc -l)"
fi
if [ -n "${START_SAMPLES:-}" ]; then
    for rt in $runtimes; do for v in ${samples[$rt]}; do printf '%s\t%s\n' "$rt" "$v"; done; done > "$START_SAMPLES"
fi

#!/usr/bin/env bash
# The runtime's own start cost, without Docker: `RUNTIME run` of a busybox bundle running `true`,
# and create, start and delete timed apart, for sysbox-runc, runc and crun interleaved in one run
# (round robin, after warm-ups); medians and ratios against runc and crun. sysbox-runc's bundle
# asks for no network of its own (io.sysboxd.net=none), so all three get a network namespace
# with only lo; the run with sysbox-runc's own network is timed too. Then one `--debug` run shows
# where sysbox-runc's milliseconds go, step by step.
# Needs the daemons of scripts/daemons.sh (dockerd only to export the busybox image).
# BUNDLE_SAMPLES=FILE: every `run` sample, "runtime<TAB>milliseconds".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROUNDS=${ROUNDS:-15}
work=$(mktemp -d)
trap 'for r in "$work"/root-*; do for id in $(ls "$r" 2>/dev/null); do "${r##*/root-}" --root "$r" delete --force "$id" >/dev/null 2>&1 || true; done; done; rm -rf "$work"' EXIT
mkdir -p "$work/b/rootfs"
cid=$(docker create --pull=never "$BUSYBOX_IMAGE" true)
docker export "$cid" | tar -C "$work/b/rootfs" -x
docker rm "$cid" >/dev/null
(cd "$work/b" && runc spec)
python3 - "$work/b/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["root"]["readonly"] = False
c["annotations"] = {"io.sysboxd.net": "none"}
json.dump(c, open(sys.argv[1], "w"))
PY
cp -a "$work/b" "$work/net"
python3 - "$work/net/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["annotations"] = {}
json.dump(c, open(sys.argv[1], "w"))
PY
runtimes="sysbox-runc runc"
# crun refuses a hybrid host whose cgroup2 hierarchy holds a controller (start-time.sh): tried once.
if command -v crun >/dev/null; then
    mkdir -p "$work/root-crun"
    if crun --root "$work/root-crun" run -b "$work/b" probe >/dev/null 2>&1; then
        runtimes+=" crun"
    else
        echo "crun cannot run here (a controller on the cgroup2 hierarchy?): left out"
    fi
    crun --root "$work/root-crun" delete --force probe >/dev/null 2>&1 || true
fi
for rt in $runtimes; do mkdir -p "$work/root-$rt"; done
now() { date +%s%N; }
declare -A samples
n=0
one() { # runtime [bundle] -> adds "run create start delete" samples in ms
    local rt=$1 b=${2:-$work/b} key=${3:-$1} id t0 t1 t1b t2 t3 t3b t4
    n=$((n + 1)); id="bench$n"
    t0=$(now); "$rt" --root "$work/root-$rt" run -b "$b" "$id" >/dev/null; t1=$(now)
    "$rt" --root "$work/root-$rt" delete --force "$id" >/dev/null 2>&1 || true
    n=$((n + 1)); id="bench$n"
    t1b=$(now); "$rt" --root "$work/root-$rt" create -b "$b" "$id" >/dev/null; t2=$(now)
    "$rt" --root "$work/root-$rt" start "$id"; t3=$(now)
    for _ in $(seq 1 200); do
        [ "$("$rt" --root "$work/root-$rt" state "$id" | jq -r .status)" = stopped ] && break
        sleep 0.005
    done
    t3b=$(now); "$rt" --root "$work/root-$rt" delete "$id"; t4=$(now)
    samples[$key.run]+="$(((t1 - t0) / 1000)) "
    samples[$key.create]+="$(((t2 - t1b) / 1000)) "
    samples[$key.start]+="$(((t3 - t2) / 1000)) "
    samples[$key.delete]+="$(((t4 - t3b) / 1000)) "
}
for rt in $runtimes; do one "$rt"; one "$rt"; done
one sysbox-runc "$work/net" net; one sysbox-runc "$work/net" net
for k in "${!samples[@]}"; do samples[$k]=""; done
for i in $(seq 1 "$ROUNDS"); do
    for rt in $runtimes; do one "$rt"; done
    one sysbox-runc "$work/net" net
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A med
printf '%-34s %9s %9s %9s %9s   (ms, medians of %d)\n' runtime run create start delete "$ROUNDS"
for rt in $runtimes net; do
    for p in run create start delete; do med[$rt.$p]=$(echo "${samples[$rt.$p]}" | median); done
    label=$rt; [ "$rt" = net ] && label="sysbox-runc with its own network"
    printf '%-34s %9.1f %9.1f %9.1f %9.1f\n' "$label" \
        "$(echo "${med[$rt.run]} / 1000" | bc -l)" "$(echo "${med[$rt.create]} / 1000" | bc -l)" \
        "$(echo "${med[$rt.start]} / 1000" | bc -l)" "$(echo "${med[$rt.delete]} / 1000" | bc -l)"
done
for anchor in runc crun; do
    [ -n "${med[$anchor.run]:-}" ] || continue
    printf 'ratio sysbox-runc/%s: run %.2f, create %.2f, start %.2f, delete %.2f\n' "$anchor" \
        "$(echo "${med[sysbox-runc.run]} / ${med[$anchor.run]}" | bc -l)" "$(echo "${med[sysbox-runc.create]} / ${med[$anchor.create]}" | bc -l)" \
        "$(echo "${med[sysbox-runc.start]} / ${med[$anchor.start]}" | bc -l)" "$(echo "${med[sysbox-runc.delete]} / ${med[$anchor.delete]}" | bc -l)"
done
if [ -n "${BUNDLE_SAMPLES:-}" ]; then
    for rt in $runtimes net; do
        label=$rt; [ "$rt" = net ] && label="sysbox-runc, own network"
        for v in ${samples[$rt.run]}; do printf '%s\t%s\n' "$label" "$(echo "$v / 1000" | bc -l)"; done
    done > "$BUNDLE_SAMPLES"
fi
# Where the time goes: the steps sysbox-runc logs with --debug (milliseconds since the command
# began, and each step's own share).
echo "sysbox-runc run --debug, step by step (ms at its end, ms of its own):"
sysbox-runc --debug --root "$work/root-sysbox-runc" run -b "$work/b" phases 2>&1 >/dev/null |
    sed -n 's/.*msg="\([a-z]*\) step done" ms=\([0-9.]*\) step=\(.*\)$/\1 \2 \3/p' |
    awk '{cmd=$1; ms=$2; $1=""; $2=""; sub(/^  /, ""); if (cmd != last) prev=0; printf "  %-7s %-24s %6.1f %6.1f\n", cmd, $0, ms, ms-prev; prev=ms; last=cmd}'

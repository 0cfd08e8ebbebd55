#!/usr/bin/env bash
# Fuzzes the parsers of what containers, peers and host files can send the programs (Sources/FuzzTargets):
#   bash scripts/fuzz.sh [TARGET...]     (all targets by default; RUNS=1000000 executions each,
#                                         MAX_TIME=seconds to stop a target earlier)
# Builds sysbox-fuzz with libFuzzer (--sanitize=fuzzer) in .build-fuzz, runs each target from its corpus
# in Tests/FuzzTargetsTests/Corpus/TARGET, merges the new inputs that add coverage into it (MERGE=0 to
# keep it as it is) and keeps any crash input there too (crash-*), so that `swift test` replays it; once
# fixed, rename it fixed-* (a crash-* file fails this script).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-1000000}
MAX_TIME=${MAX_TIME:-0}   # seconds per target, 0: until RUNS
MERGE=${MERGE:-1}
swift build -c release --sanitize=fuzzer -Xswiftc -DFUZZING --scratch-path .build-fuzz --product sysbox-fuzz
bin=.build-fuzz/release/sysbox-fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(policy spec mountinfo subid status manager-message fs-message trapped-call)
status=0
for t in "${targets[@]}"; do
    corpus=Tests/FuzzTargetsTests/Corpus/$t
    # Inputs as large as real ones: JSON documents up to 8 KiB, lines and messages up to 2 KiB.
    case $t in policy|spec) len=8192 ;; *) len=2048 ;; esac
    work=$(mktemp -d)
    echo "== $t: $RUNS runs"
    # Swift's own crash handler would take the signal before libFuzzer writes the input.
    if ! SWIFT_BACKTRACE=enable=no SYSBOX_FUZZ_TARGET=$t "$bin" -runs="$RUNS" -max_total_time="$MAX_TIME" -max_len="$len" -timeout=10 -rss_limit_mb=4096 \
            -artifact_prefix="$corpus/" -print_final_stats=1 "$work" "$corpus" 2>&1 | grep -E "^(Done|stat::number_of_executed_units|==[0-9]+== ERROR|SUMMARY|.*Fatal error)"; then
        status=1
    fi
    ls "$corpus"/crash-* >/dev/null 2>&1 && { echo "$t: crash inputs kept in $corpus"; status=1; }
    if [ "$MERGE" = 1 ]; then
        SWIFT_BACKTRACE=enable=no SYSBOX_FUZZ_TARGET=$t "$bin" -merge=1 -max_len="$len" "$corpus" "$work" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
done
exit $status

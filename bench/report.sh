#!/usr/bin/env bash
# Runs the benchmarks and writes docs/performance.md: a summary against the goals, the plots
# (docs/performance/*.png, drawn by gnuplot) and every benchmark's own output. Needs the daemons
# of scripts/daemons.sh, gnuplot (apt-get install gnuplot-nox) and lxcfs (for bench/procfs.sh).
# COUNT (default 200) is how many containers bench/scale.sh starts; REPORT_DATA=DIR keeps the
# raw outputs there; REPORT_FROM=DIR draws the page from such a directory without running anything.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v gnuplot > /dev/null || { echo "report.sh: gnuplot is not installed: apt-get install gnuplot-nox" >&2; exit 1; }
out=docs/performance
mkdir -p "$out"
if [ -n "${REPORT_FROM:-}" ]; then
    d=$REPORT_FROM
else
    d=${REPORT_DATA:-$(mktemp -d)}
    mkdir -p "$d"
    rm -f "$d"/*.tsv "$d"/*.more "$d"/*.txt
    echo "== bench/start-time.sh" >&2
    START_SAMPLES=$d/docker-start.tsv bash bench/start-time.sh | tee "$d/start-time.txt" >&2
    echo "== bench/bundle-start.sh" >&2
    BUNDLE_SAMPLES=$d/bundle-start.tsv bash bench/bundle-start.sh | tee "$d/bundle-start.txt" >&2
    echo "== bench/trap-cost.sh" >&2
    TRAP_DATA=$d/traps.tsv bash bench/trap-cost.sh | tee "$d/trap-cost.txt" >&2
    echo "== bench/procfs.sh" >&2
    PROCFS_DATA=$d/procfs.tsv bash bench/procfs.sh | tee "$d/procfs.txt" >&2
    echo "== bench/scale.sh" >&2
    SCALE_DATA=$d/scale.tsv COUNT=${COUNT:-200} bash bench/scale.sh | tee "$d/scale.txt" >&2
fi

plot() { # name gnuplot-commands
    gnuplot -e "set terminal pngcairo size 900,420 font 'DejaVu Sans,10'; set output '$out/$1.png'; $2"
}
# Start times: every sample of each runtime, as boxes (median line, quartiles, whiskers).
plot start "set multiplot layout 1,2; set style data boxplot; set style boxplot sorted nooutliers pointtype 7;
    set style fill solid 0.3; set boxwidth 0.5; unset key; set grid y;
    set title 'docker run --rm busybox true'; set ylabel 'ms';
    plot '$d/docker-start.tsv' using (1.0):(\$2*1000):(0.5):1 lc rgb '#1f77b4';
    set title 'RUNTIME run of a busybox bundle (true)'; set ylabel 'ms'; set xtics rotate by -20 font ',9';
    plot '$d/bundle-start.tsv' using (1.0):2:(0.5):1 lc rgb '#2ca02c'; unset multiplot"
# Trapped calls: answered by sysbox-mgr against the same call untrapped, log scale.
plot traps "set style data histogram; set style histogram clustered gap 1; set style fill solid 0.8 border -1;
    set logscale y; set ylabel 'microseconds per call (log)'; set grid y; set key top left;
    set title 'Trapped calls: sysbox-mgr against untrapped (floor of a trapped call here: $(awk '$1 == "floor" {print $2}' "$d/traps.tsv.more") us)';
    plot '$d/traps.tsv' using 2:xtic(1) title 'trapped (sysbox-mgr)' lc rgb '#d62728', '' using 3 title 'untrapped' lc rgb '#7f7f7f'"
# /proc reads: sysbox-fs against the host's own /proc and LXCFS, log scale.
plot procfs "set style data histogram; set style histogram clustered gap 1; set style fill solid 0.8 border -1;
    set logscale y; set ylabel 'microseconds per open+read+close (log)'; set grid y; set key top left;
    set title 'Virtual /proc reads: sysbox-fs against native /proc and LXCFS';
    plot '$d/procfs.tsv' using 2:xtic(1) title 'native /proc' lc rgb '#7f7f7f', '' using 3 title 'sysbox-fs' lc rgb '#1f77b4', '' using 4 title 'LXCFS' lc rgb '#ff7f0e'"
# The scale curve.
plot scale "set multiplot layout 1,3; set grid; set key top left; set xlabel 'system containers running';
    set title 'docker run -d (median of the last 5)'; set ylabel 'ms'; set yrange [0:*];
    plot '$d/scale.tsv' using 1:(\$1 > 0 ? \$2 : 1/0) with linespoints pt 7 title 'start';
    set title 'daemons memory per container'; set ylabel 'KiB';
    plot '$d/scale.tsv' using 1:(\$1 > 0 ? \$3 : 1/0) with linespoints pt 7 title 'RSS / container', 256 with lines dt 2 title 'goal';
    set title 'p99 in a probe container'; set ylabel 'microseconds'; set logscale y; set yrange [*:*];
    plot '$d/scale.tsv' using 1:6 with linespoints pt 7 title 'trapped sethostname', '' using 1:8 with linespoints pt 5 title '/proc/meminfo read';
    unset multiplot"

# Nothing for no samples (a runtime left out), so that its ratios show as "—".
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
med() { awk -F'\t' -v r="$2" '$1 == r {print $2}' "$1" | median; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && echo "$1 / $2" | bc -l | xargs printf '%.2f×' || echo "— (not run here)"; }
more() { awk -v k="$1" '$1 == k {print $2}' "$d/traps.tsv.more"; }
trap_us() { awk -F'\t' -v k="$1" '$1 == k {print $2}' "$d/traps.tsv"; }
scale_at() { awk -F'\t' -v n="$1" -v c="$2" '$1 == n {print $c}' "$d/scale.tsv"; }
ds=$(med "$d/docker-start.tsv" sysbox-runc); dr=$(med "$d/docker-start.tsv" runc); dc=$(med "$d/docker-start.tsv" crun)
bs=$(med "$d/bundle-start.tsv" sysbox-runc); br=$(med "$d/bundle-start.tsv" runc); bc_=$(med "$d/bundle-start.tsv" crun)
last=$(awk -F'\t' '$1 ~ /^[0-9]+$/ {n=$1} END {print n}' "$d/scale.tsv")
{
    echo "# Performance"
    echo
    echo "Where sysboxd stands against runc, crun and LXCFS on one machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)."
    echo "Every figure is from one run of \`bench/report.sh\` on $(date -u +%Y-%m-%d); each benchmark measures its anchor in the same run."
    echo "The machine is a VM shared with other work: figures move by 10–20% between runs, so read ratios, not absolute times; the p99s and start times at 200 containers, where the two CPUs are saturated, can move several-fold between runs."
    echo
    echo "| what | goal | measured |"
    echo "|---|---|---|"
    echo "| \`docker run --rm busybox true\` against runc / crun | ≤ 0.9× / ≤ 1.0× | $(ratio "$ds" "$dr") / $(ratio "$ds" "$dc") |"
    echo "| \`run\` of a busybox bundle against runc / crun | ≤ 1.0× / ≤ 1.5× | $(ratio "$bs" "$br") / $(ratio "$bs" "$bc_") |"
    echo "| trapped \`sethostname\` | ≤ 10 µs | $(trap_us sethostname) µs (floor here: $(more floor) µs) |"
    echo "| trapped \`sysinfo\` | ≤ 20 µs | $(trap_us sysinfo) µs |"
    echo "| emulated \`mount -t tmpfs\` | ≤ 300 µs | $(trap_us mount-tmpfs) µs |"
    echo "| trapped mounts, 8 threads of one container against 1 | ≥ 1.6× | $(more threads_ratio)× |"
    echo "| another container flooding sysbox-mgr: p99 of a trapped call | ≤ 2 ms | $(echo "$(more flood_p99) / 1000" | bc -l | xargs printf '%.2f') ms |"
    echo "| \`sysbox-mgr trace\` running: tight loop / one call every 2 ms | ≤ 5% | $(more trace_pct)% / $(more trace_p50_pct)% |"
    echo "| system containers started | 200 | $last |"
    echo "| last start against the first (medians of 5) | ≤ 1.5× | $(sed -n 's/^the last start against the first: \([0-9.]*\)x.*/\1×/p' "$d/scale.txt") |"
    echo "| daemons' memory per running container | ≤ 256 KiB | $(scale_at "$last" 3) KiB |"
    echo "| daemons' CPU with $last idle containers | ≈ 0 | $(sed -n "s/^the daemons' CPU with [0-9]* idle containers: \(.*\)$/\1/p" "$d/scale.txt") |"
    echo "| trap / /proc read p99 at $last against idle | ≤ 2× | $(ratio "$(scale_at "$last" 6)" "$(scale_at 0 6)") / $(ratio "$(scale_at "$last" 8)" "$(scale_at 0 8)") |"
    echo
    echo "## Start time"
    echo
    echo "![start time distributions](performance/start.png)"
    echo
    echo '```'
    cat "$d/start-time.txt"
    echo
    cat "$d/bundle-start.txt"
    echo '```'
    echo
    echo "## Trapped calls"
    echo
    echo "![trapped calls](performance/traps.png)"
    echo
    echo '```'
    cat "$d/trap-cost.txt"
    echo '```'
    echo
    echo "## Virtual /proc"
    echo
    echo "![virtual /proc reads](performance/procfs.png)"
    echo
    echo '```'
    cat "$d/procfs.txt"
    echo '```'
    echo
    echo "## $last system containers"
    echo
    echo "![scale curve](performance/scale.png)"
    echo
    echo '```'
    cat "$d/scale.txt"
    echo '```'
    echo
    echo "How each is measured: the comment at the top of each script in bench/. Regenerate with \`bash bench/report.sh\`."
} > docs/performance.md
echo "wrote docs/performance.md and $out/*.png" >&2

#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, creates the images, then runs the test
# matrix's cells (scripts/matrix.sh, docs/testing.md), each from a clean state with the daemons
# started for it, and prints a table of results ending with "N passed, M failed".
#   bash scripts/test.sh                    the cells of CI (.ci/run): unit, integration, e2e, the
#                                           install test, and the cells of the other axes
#   bash scripts/test.sh --matrix           every cell this machine can run (CI's and the local ones)
#   bash scripts/test.sh --cell SPEC        the cells SPEC names: a cell name, or axis=value pairs,
#                                           e.g. --cell shift=chown,frontend=ctr
#   bash scripts/test.sh --list             the cells, without running anything
# Stops the daemons it started. Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/matrix.sh
selection=ci
case "${1:-}" in
    "") ;;
    --matrix) selection=all-local ;;
    --cell) [ -n "${2:-}" ] || { echo "--cell needs a cell name or axis=value pairs, e.g. --cell shift=chown,frontend=ctr" >&2; exit 2; }
            selection=$2 ;;
    --list) printf '%-18s %-7s %s\n' cell where axes; for c in "${MATRIX_CELLS[@]}"; do printf '%-18s %-7s %s\n' "$(cell_name "$c")" "$(cell_where "$c")" "$(cell_axes "$c")"; done; exit 0 ;;
    *) echo "unknown argument $1: use --matrix, --cell SPEC or --list (docs/testing.md)" >&2; exit 2 ;;
esac
mapfile -t cells < <(select_cells "$selection")
if [ ${#cells[@]} -eq 0 ]; then
    echo "no cell matches \"$selection\": see bash scripts/test.sh --list (cells: $(for c in "${MATRIX_CELLS[@]}"; do printf '%s ' "$(cell_name "$c")"; done))" >&2
    exit 2
fi
[ "$(id -u)" -eq 0 ] || { echo "run as root: the tests create namespaces, cgroups and mounts" >&2; exit 1; }
set -e
bash scripts/install-deps.sh
bash scripts/build.sh
bash scripts/daemons.sh start
trap 'bash scripts/daemons.sh stop' EXIT
bash scripts/images.sh all
set +e
run_cells "${cells[@]}"

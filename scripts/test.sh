#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, creates the images, starts the daemons,
# then runs the unit tests (swift test), the root integration tests, the Docker end-to-end suite and
# the install test (the package built and installed on a systemd host).
# Stops the daemons it started. Exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "run as root: the tests create namespaces, cgroups and mounts" >&2; exit 1; }
set -e
bash scripts/install-deps.sh
bash scripts/build.sh
bash scripts/daemons.sh start
trap 'bash scripts/daemons.sh stop' EXIT
bash scripts/images.sh all
set +e
status=0
echo "== format (swift format lint --strict, .swift-format)"
findings=$(swift format lint --strict -r Sources Tests Package.swift 2>&1)
[ -z "$findings" ] || { echo "$findings" | head -50; status=1; }
echo "format: $(echo -n "$findings" | grep -c . || true) findings (fix with: swift format -i -r Sources Tests Package.swift)"
echo "== unit tests (swift test)"
swift test 2>&1 | tee /tmp/sysboxd-swift-test.log | grep -vE '^\[[0-9]+/[0-9]+\]|^(Compiling|Building|Write|Emitting|Linking)' ; [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
echo "== integration tests (sysbox-runc directly)"
bash tests/integration/run.sh || status=1
echo "== end-to-end tests (docker run --runtime=sysbox-runc)"
bash tests/e2e/run.sh || status=1
echo "== install test (the .deb built, then installed on a systemd host with its own Docker)"
bash tests/install/run.sh || status=1
exit $status

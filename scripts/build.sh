#!/usr/bin/env bash
# Builds sysbox-runc, sysbox-mgr, sysbox-fs and sysbox-keep (release) and installs them into $BIN_DIR (/usr/local/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
swift build -c release --static-swift-stdlib --product sysbox-runc
swift build -c release --static-swift-stdlib --product sysbox-mgr
swift build -c release --static-swift-stdlib --product sysbox-fs
swift build -c release --static-swift-stdlib --product sysbox-keep
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)
install -d "$BIN_DIR"
install -m 0755 "$bin/sysbox-runc" "$bin/sysbox-mgr" "$bin/sysbox-fs" "$bin/sysbox-keep" "$BIN_DIR/"
install -d "$POLICY_DIR"
install -m 0644 policies/*.json "$POLICY_DIR/"
echo "installed sysbox-runc, sysbox-mgr, sysbox-fs and sysbox-keep into $BIN_DIR, policies into $POLICY_DIR"

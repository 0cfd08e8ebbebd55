#!/usr/bin/env bash
# Builds sysbox-runc and sysbox-mgr (release) and installs them into /usr/local/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --static-swift-stdlib --product sysbox-runc
swift build -c release --static-swift-stdlib --product sysbox-mgr
bin=$(swift build -c release --static-swift-stdlib --show-bin-path)
install -m 0755 "$bin/sysbox-runc" "$bin/sysbox-mgr" /usr/local/bin/
install -d /etc/sysbox/policies
install -m 0644 policies/*.json /etc/sysbox/policies/
echo "installed sysbox-runc and sysbox-mgr into /usr/local/bin, policies into /etc/sysbox/policies"

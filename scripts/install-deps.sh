#!/usr/bin/env bash
# Installs what building and testing need, from Debian's packages. Fast when all is present.
set -euo pipefail
pkgs="docker.io runc crun containerd iptables libseccomp-dev libcap-dev libmnl-dev libnftnl-dev libfuse3-dev fuse3 busybox-static jq nftables containernetworking-plugins iperf3 debhelper dpkg-dev fakeroot lintian chrpath iproute2 util-linux procps bsdutils bc debootstrap gcc libc6-dev lxcfs"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q $missing
fi
echo "dependencies present"

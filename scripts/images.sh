#!/usr/bin/env bash
# Builds the test images locally (there is no registry):
# - sysboxd-test/busybox, from Debian's busybox-static (seconds); its rootfs also stays at
#   /var/lib/sysboxd-test/busybox for the runtime's integration tests;
# - sysboxd-test/debian-systemd (`images.sh debian`, or `all`), a Debian bookworm with systemd 252,
#   docker.io and containerd from Debian's mirror (debootstrap, about a minute), init as its command
#   and SIGRTMIN+3 as its stop signal;
# - sysboxd-test/debian-trixie (`images.sh trixie`, or `all`), the same from Debian 13: systemd 257,
#   Docker 26 (docker.io with docker-cli), containerd 1.7, runc 1.1.15;
# - sysboxd-test/debian-sid (`images.sh sid`, or `all`), the same from Debian unstable: systemd 258
#   or later (which refuses cgroup v1), Docker 28 with docker-cli and docker-buildx, containerd 2.
# Each rootfs is cached as a tarball under /var/cache/sysboxd, keyed by release and package list,
# so later builds on the same machine only import it.
set -euo pipefail
. "$(dirname "$0")/env.sh"
WHICH=${1:-busybox}
ROOTFS=/var/lib/sysboxd-test/busybox
if [ ! -x "$ROOTFS/bin/busybox" ]; then
    rm -rf "$ROOTFS.tmp" && mkdir -p "$ROOTFS.tmp"
    cd "$ROOTFS.tmp"
    mkdir -p bin etc tmp proc sys dev root home/user var/tmp
    cp /bin/busybox bin/busybox
    for a in $(./bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "bin/$a"; done
    printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > etc/passwd
    printf 'root:x:0:\ntty:x:5:\nuser:x:1000:\nnobody:x:65534:\n' > etc/group
    chmod 1777 tmp var/tmp
    chown 1000:1000 home/user
    cd / && mv "$ROOTFS.tmp" "$ROOTFS"
fi
if ! docker image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1; then
    tar -C "$ROOTFS" -c . | docker import --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' - "$BUSYBOX_IMAGE" >/dev/null
fi
echo "image $BUSYBOX_IMAGE ready"

# debian_rootfs RELEASE PACKAGES: the cached tarball of a debootstrapped rootfs (made if missing);
# sets CACHE and KEY.
debian_rootfs() {
    local release=$1 packages=$2 tmp
    KEY=$(echo "$release minbase $packages v1" | sha256sum | cut -c1-12)
    CACHE=/var/cache/sysboxd/debian-$release-$KEY.tar
    local cache=$CACHE
    if [ ! -s "$cache" ]; then
        mkdir -p /var/cache/sysboxd
        tmp=$(mktemp -d /var/cache/sysboxd/debootstrap.XXXXXX)
        echo "debootstrap of Debian $release with systemd and docker.io (a minute or two)..." >&2
        if ! debootstrap --variant=minbase --include="$packages" "$release" "$tmp/rootfs" http://deb.debian.org/debian > "$tmp/log" 2>&1; then
            tail -20 "$tmp/log" >&2; rm -rf "$tmp"; echo "debootstrap of $release failed (log above)" >&2; exit 1
        fi
        # An image, not a booted host: no apt lists, no machine id (systemd makes one per boot).
        rm -rf "$tmp/rootfs/var/lib/apt/lists/"* "$tmp/rootfs/var/cache/apt/"*.bin
        : > "$tmp/rootfs/etc/machine-id"
        echo "debian-$release" > "$tmp/rootfs/etc/hostname"
        tar -C "$tmp/rootfs" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
        rm -rf "$tmp"
    fi
}

# debian_image IMAGE RELEASE PACKAGES
debian_image() {
    local image=$1 release=$2 packages=$3
    local key cache ctx
    key=$(echo "$release minbase $packages v1" | sha256sum | cut -c1-12)
    if docker image inspect "$image" >/dev/null 2>&1 && \
       [ "$(docker image inspect -f '{{index .Config.Labels "io.sysboxd.image-key"}}' "$image")" = "$key" ]; then
        echo "image $image ready"
        return
    fi
    debian_rootfs "$release" "$packages"
    cache=$CACHE
    docker import - "$image-base" < "$cache" >/dev/null
    ctx=$(mktemp -d)
    # docker import cannot set a stop signal or labels: a two-line build on top of the import does.
    printf 'FROM %s-base\nSTOPSIGNAL SIGRTMIN+3\nLABEL io.sysboxd.image-key=%s\nCMD ["/sbin/init"]\n' "$image" "$key" > "$ctx/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q -t "$image" "$ctx" >/dev/null 2>"$ctx/err" || { cat "$ctx/err" >&2; rm -rf "$ctx"; exit 1; }
    rm -rf "$ctx"
    docker rmi "$image-base" >/dev/null 2>&1 || true
    echo "image $image ready"
}

PACKAGES=systemd,systemd-sysv,dbus,docker.io,containerd,iproute2,procps,kmod,iptables,ca-certificates,less
if [ "$WHICH" = debian ] || [ "$WHICH" = all ]; then
    debian_image "$DEBIAN_IMAGE" bookworm "$PACKAGES"
fi
if [ "$WHICH" = trixie ] || [ "$WHICH" = all ]; then
    debian_image "$TRIXIE_IMAGE" trixie "$PACKAGES,docker-cli"
fi
if [ "$WHICH" = sid ] || [ "$WHICH" = all ]; then
    debian_image "$SID_IMAGE" sid "$PACKAGES,docker-cli,docker-buildx"
fi
# The systemd host of the install test (tests/install/run.sh): Debian 12 with what the package
# needs from Debian already there (no mirror is reached from inside). Prints the tarball's path.
if [ "$WHICH" = install-host ]; then
    debian_rootfs bookworm "$PACKAGES,jq,fuse3,libfuse3-3,libmnl0,libnftnl11,nftables,man-db,bash-completion"
    echo "$CACHE"
fi

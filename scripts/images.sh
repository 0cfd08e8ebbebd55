#!/usr/bin/env bash
# Builds the test images locally (there is no registry):
# - sysboxd-test/busybox, from Debian's busybox-static (seconds); its rootfs also stays at
#   /var/lib/sysboxd-test/busybox for the runtime's integration tests;
# - sysboxd-test/debian-systemd (`images.sh debian`, or `all`), a Debian bookworm with systemd,
#   docker.io and containerd from Debian's mirror (debootstrap, about a minute), init as its command
#   and SIGRTMIN+3 as its stop signal. Its rootfs is cached as a tarball under /var/cache/sysboxd,
#   keyed by the package list, so later builds on the same machine only import it.
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
[ "$WHICH" = debian ] || [ "$WHICH" = all ] || exit 0

PACKAGES=systemd,systemd-sysv,dbus,docker.io,containerd,iproute2,procps,kmod,iptables,ca-certificates,less
KEY=$(echo "bookworm minbase $PACKAGES v1" | sha256sum | cut -c1-12)
CACHE=/var/cache/sysboxd/debian-systemd-$KEY.tar
if ! docker image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1 || \
   [ "$(docker image inspect -f '{{index .Config.Labels "io.sysboxd.image-key"}}' "$DEBIAN_IMAGE")" != "$KEY" ]; then
    if [ ! -s "$CACHE" ]; then
        mkdir -p /var/cache/sysboxd
        tmp=$(mktemp -d /var/cache/sysboxd/debootstrap.XXXXXX)
        trap 'rm -rf "$tmp"' EXIT
        echo "debootstrap of Debian bookworm with systemd and docker.io (about a minute)..."
        debootstrap --variant=minbase --include="$PACKAGES" bookworm "$tmp/rootfs" http://deb.debian.org/debian > "$tmp/log" 2>&1 \
            || { tail -20 "$tmp/log" >&2; echo "debootstrap failed (log above)" >&2; exit 1; }
        # An image, not a booted host: no apt lists, no machine id (systemd makes one per boot).
        rm -rf "$tmp/rootfs/var/lib/apt/lists/"* "$tmp/rootfs/var/cache/apt/"*.bin
        : > "$tmp/rootfs/etc/machine-id"
        echo debian-systemd > "$tmp/rootfs/etc/hostname"
        tar -C "$tmp/rootfs" -cf "$CACHE.tmp" . && mv "$CACHE.tmp" "$CACHE"
        rm -rf "$tmp"; trap - EXIT
    fi
    docker import - "$DEBIAN_IMAGE-base" < "$CACHE" >/dev/null
    ctx=$(mktemp -d)
    # docker import cannot set a stop signal or labels: a two-line build on top of the import does.
    printf 'FROM %s-base\nSTOPSIGNAL SIGRTMIN+3\nLABEL io.sysboxd.image-key=%s\nCMD ["/sbin/init"]\n' "$DEBIAN_IMAGE" "$KEY" > "$ctx/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q -t "$DEBIAN_IMAGE" "$ctx" >/dev/null 2>"$ctx/err" || { cat "$ctx/err" >&2; exit 1; }
    rm -rf "$ctx"
    docker rmi "$DEBIAN_IMAGE-base" >/dev/null 2>&1 || true
fi
echo "image $DEBIAN_IMAGE ready"

#!/usr/bin/env bash
# Builds the test images locally (there is no registry): a busybox image from Debian's busybox-static.
# Also leaves the same rootfs at /var/lib/sysboxd-test/busybox for the runtime's integration tests.
set -euo pipefail
. "$(dirname "$0")/env.sh"
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

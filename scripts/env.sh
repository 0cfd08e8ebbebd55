# Shared settings for the scripts: where the private test daemons live.
# SYSBOXD_STACK=name runs a second, separate set (own binaries, sysbox-mgr, dockerd, sockets and
# data) beside the default one, e.g. to try a branch while the default set keeps running.
SYSBOXD_STACK=${SYSBOXD_STACK:-}
if [ -z "$SYSBOXD_STACK" ]; then
    SYSBOXD_STATE=/run/sysboxd-dev
    BIN_DIR=/usr/local/bin
    MGR_SOCK=/run/sysbox/mgr.sock
    MGR_DATA=/var/lib/sysbox
    DOCKER_DATA=/var/lib/sysboxd-docker
    DOCKER_EXEC=/run/sysboxd-docker
    POLICY_DIR=/etc/sysbox/policies
else
    SYSBOXD_STATE=/run/sysboxd-$SYSBOXD_STACK
    BIN_DIR=/opt/sysboxd-$SYSBOXD_STACK/bin
    MGR_SOCK=$SYSBOXD_STATE/mgr.sock
    MGR_DATA=/var/lib/sysboxd-$SYSBOXD_STACK/mgr
    DOCKER_DATA=/var/lib/sysboxd-$SYSBOXD_STACK/docker
    DOCKER_EXEC=/run/sysboxd-$SYSBOXD_STACK-docker
    # Its own policies too: its sysbox-runc may read keys the default stack's does not know yet.
    POLICY_DIR=/etc/sysbox-$SYSBOXD_STACK/policies
    export SYSBOX_POLICY_DIR=$POLICY_DIR
fi
DOCKER_SOCK=$SYSBOXD_STATE/docker.sock
if [ -z "$SYSBOXD_STACK" ]; then FS_SOCK=/run/sysbox/fs.sock; else FS_SOCK=$SYSBOXD_STATE/fs.sock; fi
if [ -z "$SYSBOXD_STACK" ]; then KEEP_SOCK=/run/sysbox/keep.sock; else KEEP_SOCK=$SYSBOXD_STATE/keep.sock; fi
DOCKER_CONFIG_FILE=$SYSBOXD_STATE/docker-daemon.json
# SYSBOXD_DOCKER_HOST: another Docker (the host's own, where the package is installed).
export DOCKER_HOST=${SYSBOXD_DOCKER_HOST:-unix://$DOCKER_SOCK}
export SYSBOX_MGR_SOCKET=$MGR_SOCK
export SYSBOX_FS_SOCKET=$FS_SOCK
export SYSBOX_KEEP_SOCKET=$KEEP_SOCK
export PATH=$BIN_DIR:$PATH
BUSYBOX_IMAGE=sysboxd-test/busybox:latest
DEBIAN_IMAGE=sysboxd-test/debian-systemd
TRIXIE_IMAGE=sysboxd-test/debian-trixie
SID_IMAGE=sysboxd-test/debian-sid

# Shared settings for the scripts: where the private test daemons live.
SYSBOXD_STATE=/run/sysboxd-dev
DOCKER_DATA=/var/lib/sysboxd-docker
DOCKER_EXEC=/run/sysboxd-docker
DOCKER_SOCK=/run/sysboxd-docker.sock
DOCKER_CONFIG_FILE=/etc/sysboxd/docker-daemon.json
export DOCKER_HOST=unix://$DOCKER_SOCK
BIN_DIR=/usr/local/bin
BUSYBOX_IMAGE=sysboxd-test/busybox:latest

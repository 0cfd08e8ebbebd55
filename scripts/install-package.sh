#!/usr/bin/env bash
# Installs a sysboxd .deb on a host whose PID 1 is systemd, for that host's own Docker, and checks
# what a user would: the units active and Docker listing the runtime. The systemd path of the
# README's first command (scripts/setup.sh); tests/install/run.sh runs it on its systemd host.
set -euo pipefail
deb=${1:?usage: install-package.sh SYSBOXD.deb}
[ "$(ps -o comm= -p 1)" = systemd ] || { echo "install-package.sh: PID 1 is not systemd here; use scripts/setup.sh's private daemons" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive apt-get install -y "$(realpath "$deb")" >/tmp/sysboxd-apt.log 2>&1 || {
    tail -20 /tmp/sysboxd-apt.log >&2; echo "apt-get install of $deb failed (log: /tmp/sysboxd-apt.log)" >&2; exit 1; }
grep -E '^sysboxd:' /tmp/sysboxd-apt.log >&2 || true
for u in sysbox sysbox-keep sysbox-mgr sysbox-fs; do
    systemctl is-active --quiet "$u" || { systemctl status "$u" --no-pager >&2 || true; echo "$u is not active" >&2; exit 1; }
done
runtimes=$(docker info --format '{{range $name, $r := .Runtimes}}{{$name}} {{end}}' 2>/dev/null || true)
echo "installed $(dpkg-query -W -f '${Package} ${Version}' sysboxd): sysbox.service active; Docker's runtimes: ${runtimes:-none (is Docker installed and running?)}"
case " $runtimes " in *" sysbox-runc "*) ;; *) [ -z "$runtimes" ] || { echo "Docker does not list sysbox-runc" >&2; exit 1; } ;; esac

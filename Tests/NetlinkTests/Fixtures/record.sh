#!/usr/bin/env bash
# Records the kernel's replies the unit tests parse: an RTM_GETLINK and an RTM_GETADDR dump of a
# network namespace holding lo, a bridge "br-rec" with 10.99.0.1/24 and MTU 1400, and a veth pair
# "vrec0"/"vrec1" whose vrec0 is a port of the bridge. Run as root; writes *.hex next to itself.
set -euo pipefail
cd "$(dirname "$0")"
unshare -n bash -c '
ip link set lo up
ip link add br-rec mtu 1400 type bridge
ip link add vrec0 type veth peer name vrec1
ip link set vrec0 master br-rec
ip link set br-rec up
ip addr add 10.99.0.1/24 dev br-rec
python3 - <<PY
import socket, struct
def dump(kind, family_header):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.bind((0, 0))
    body = family_header
    s.send(struct.pack("=IHHII", 16 + len(body), kind, 0x301, 1, 0) + body)
    out = b""
    while True:
        chunk = s.recv(65536)
        out += chunk
        if struct.unpack_from("=H", chunk, 4)[0] == 3:  # NLMSG_DONE
            return out
open("getlink.hex", "w").write(dump(18, bytes(16)).hex() + "\n")
open("getaddr.hex", "w").write(dump(22, struct.pack("=BBBBI", 2, 0, 0, 0, 0)).hex() + "\n")
PY
'

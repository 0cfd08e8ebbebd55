#!/usr/bin/env python3
"""A name server for tests: answers every A query with one address (argv[2]), on argv[1]:53/udp.
It stays on the machine: the test runs it in a network namespace of its own."""
import socket
import struct
import sys

bind, answer = sys.argv[1], socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((bind, 53))
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    ident, _flags, qd = struct.unpack("!HHH", q[:6])
    end = 12
    while end < len(q) and q[end] != 0:
        end += q[end] + 1
    question = q[12:end + 5]
    qtype = struct.unpack("!H", q[end + 1:end + 3])[0] if end + 3 <= len(q) else 0
    header = struct.pack("!HHHHHH", ident, 0x8180, 1, 1 if qtype == 1 else 0, 0, 0)
    body = question
    if qtype == 1:
        body += struct.pack("!HHHLH", 0xC00C, 1, 1, 60, 4) + answer
    s.sendto(header + body, peer)

"""Sends one SSH-agent frame (its message as hex in argv[1]) to $APISEC_AUTH_SOCK and prints
the reply's message type: a client with no apisec code in it, for tests that speak the protocol
as another uid."""

import os
import socket
import struct
import sys

message = bytes.fromhex(sys.argv[1])
with socket.socket(socket.AF_UNIX) as s:
    s.connect(os.environ["APISEC_AUTH_SOCK"])
    s.sendall(struct.pack(">I", len(message)) + message)
    length = struct.unpack(">I", s.recv(4))[0]
    reply = b""
    while len(reply) < length:
        chunk = s.recv(length - len(reply))
        if not chunk:
            break
        reply += chunk
print(reply[0])

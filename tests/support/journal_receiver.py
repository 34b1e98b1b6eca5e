"""A stand-in for journald's native socket: binds a datagram socket at argv[1], and for every
entry appends one JSON line to argv[2] as `journalctl -o json` prints it, with `_UID` taken, as
journald takes it, from the sender's kernel credentials (SCM_CREDENTIALS), never from the
entry. Fields in the binary form (a value with a newline) are not expected and end the entry."""

import json
import os
import socket
import struct
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
os.chmod(path, 0o666)
print("ready", flush=True)
creds_size = struct.calcsize("3i")
while True:
    data, ancillary, _flags, _addr = s.recvmsg(1 << 20, socket.CMSG_SPACE(creds_size))
    entry = {}
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, uid, gid = struct.unpack("3i", payload[:creds_size])
            entry["_UID"] = str(uid)
            entry["_PID"] = str(pid)
    for field in data.decode("utf-8", "replace").split("\n"):
        if "=" in field:
            key, value = field.split("=", 1)
            entry[key] = value
    with open(out, "a") as f:
        f.write(json.dumps(entry) + "\n")

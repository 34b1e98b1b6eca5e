"""A hostile client: opens argv[2] connections to the Unix socket argv[1] and holds them. After
a moment it prints how many the other end still holds open ("held N"), then keeps them until it
is killed."""

import resource
import socket
import sys
import time

path, count = sys.argv[1], int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
for _ in range(count):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError:
        s.close()
        continue
    held.append(s)
time.sleep(1.5)
open_now = 0
for s in held:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            continue  # closed by the agent
        open_now += 1
    except BlockingIOError:
        open_now += 1
    except OSError:
        pass
print(f"held {open_now}", flush=True)
time.sleep(120)

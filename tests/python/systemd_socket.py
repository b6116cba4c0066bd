#!/usr/bin/env python3
"""Starts eco the way systemd does with a .socket unit (Accept=no): the
listening socket as descriptor 3, LISTEN_FDS=1, LISTEN_PID=its pid, and
NOTIFY_SOCKET for sd_notify. Then one echo, SIGTERM, and a look at the
socket afterwards.

    python3 systemd_socket.py ECO MODE

Prints {"ready": bool, "echo": bool, "stopping": bool, "status": S,
"still_listening": bool, "stderr": TEXT} as JSON.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def main():
    eco, mode = sys.argv[1], sys.argv[2]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    notify_dir = tempfile.mkdtemp()
    notify_path = os.path.join(notify_dir, "notify")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(10)
    env = dict(os.environ, LISTEN_FDS="1", NOTIFY_SOCKET=notify_path, ECO_LANG="en")

    # Descriptor 3 is the socket, as systemd passes it.
    if listener.fileno() != 3:
        os.dup2(listener.fileno(), 3)
    # LISTEN_PID must be eco's own pid: the shell's, which exec keeps.
    proc = subprocess.Popen(
        ["sh", "-c", 'LISTEN_PID=$$ exec "$0" server --mode "$1" --grace 1', eco, mode],
        env=env,
        pass_fds=(3,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    messages = []

    def wait_for(word):
        while not any(word in m for m in messages):
            try:
                messages.append(notify.recv(4096).decode())
            except socket.timeout:
                return False
        return True

    ready = wait_for("READY=1")
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(b"from systemd's socket")
    echo = client.recv(100) == b"from systemd's socket"
    client.close()
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    stopping = wait_for("STOPPING=1")
    status = proc.wait(timeout=10)
    # The socket is systemd's: still listening after eco left.
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        still = True
    except OSError:
        still = False
    print(json.dumps({
        "ready": ready,
        "echo": echo,
        "stopping": stopping,
        "status": status,
        "still_listening": still,
        "stderr": proc.stderr.read().decode("utf-8", "replace"),
    }))


if __name__ == "__main__":
    main()

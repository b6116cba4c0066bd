#!/usr/bin/env python3
"""Runs `eco server --inetd` the way inetd does: a connected socket as its
standard input and output (one end of a socketpair), stderr apart.

    python3 inetd_pair.py [--stderr-too] ECO [ARG...]

With --stderr-too the socket is its standard error as well (inetd passes
it as 0, 1 and 2): nothing but the echo may come back.

Sends 200 000 bytes, half-closes, reads the echo to the end, and prints
{"sent": N, "echoed_ok": bool, "status": S, "stdout_extra": bool,
"stderr": TEXT} as JSON.
"""

import json
import os
import socket
import subprocess
import sys
import threading


def main():
    args = sys.argv[1:]
    stderr_too = args[0] == "--stderr-too"
    if stderr_too:
        args = args[1:]
    ours, theirs = socket.socketpair()
    proc = subprocess.Popen(
        args + ["server", "--inetd", "--lang", "en"],
        stdin=theirs.fileno(),
        stdout=theirs.fileno(),
        stderr=theirs.fileno() if stderr_too else subprocess.PIPE,
    )
    theirs.close()
    data = os.urandom(200_000)

    def send():
        ours.sendall(data)
        ours.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send)
    sender.start()
    ours.settimeout(10)
    echo = bytearray()
    while True:
        chunk = ours.recv(65536)
        if not chunk:
            break
        echo.extend(chunk)
    sender.join()
    status = proc.wait(timeout=10)
    print(json.dumps({
        "sent": len(data),
        "echoed_ok": bytes(echo) == data,
        "got": len(echo),
        "status": status,
        "stderr": "" if stderr_too else proc.stderr.read().decode("utf-8", "replace"),
    }))


if __name__ == "__main__":
    main()

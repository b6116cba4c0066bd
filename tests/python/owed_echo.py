#!/usr/bin/env python3
"""A client that stops reading while the server still owes it echo.

    python3 owed_echo.py PORT WAIT

Sends 64 KiB at a time until the server has read everything it was sent
(its socket's Recv-Q is 0, as `ss` would show) but cannot write the echo (its
Send-Q is large and grows by less than what was just sent): the server now
waits on its write, with nothing left to read. Then waits WAIT seconds (past the server's
--idle-timeout), reads what comes and prints one JSON line:
{"sent": N, "got": M, "end": "fin" | "reset" | "timeout"}.
A FIN with got < sent is the bug: the client would take a partial echo
for a whole one.
"""

import json
import socket
import sys
import time


def server_queues(port):
    """Recv-Q and Send-Q of the server's side of the connection (None once
    it is no longer established), from /proc/net/tcp: what `ss` shows, read
    in a fraction of the time `ss` takes on a machine with many sockets."""
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, state, queues = fields[1], fields[3], fields[4]
            if state == "01" and int(local.split(":")[1], 16) == port:
                send_q, recv_q = (int(q, 16) for q in queues.split(":"))
                return recv_q, send_q
    return None


def main():
    port, wait = int(sys.argv[1]), float(sys.argv[2])
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sent, previous = 0, -1
    # 64 KiB at a time: the server's send buffer (megabytes on loopback)
    # fills in about a second.
    chunk = 65536
    for _ in range(2000):
        try:
            s.sendall(b"y" * chunk)
        except ConnectionResetError:
            # The server's idle timeout ran out while we were still
            # filling (a busy machine): a reset, which is the right end.
            print(json.dumps({"sent": sent, "got": 0, "end": "reset"}))
            return
        sent += chunk
        time.sleep(0.005)
        queues = server_queues(port)
        if queues is None:
            break
        recv_q, send_q = queues
        if recv_q == 0 and send_q > 100_000 and send_q - previous < chunk:
            break
        previous = send_q
    time.sleep(wait)
    s.settimeout(10)
    got, end = 0, "timeout"
    try:
        while True:
            data = s.recv(1 << 20)
            if not data:
                end = "fin"
                break
            got += len(data)
    except ConnectionResetError:
        end = "reset"
    except socket.timeout:
        pass
    print(json.dumps({"sent": sent, "got": got, "end": end}))


if __name__ == "__main__":
    main()

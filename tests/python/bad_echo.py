#!/usr/bin/env python3
"""An echo server that misbehaves in one way, for eco bench to name it.

    python3 bad_echo.py MODE

Prints its port on the first line, then serves until killed (at most 60 s).
MODE:
  tcp-repeat   TCP: echoes the 50th read twice (one fault per connection)
  udp-longer   UDP: every 97th answer one byte longer
  udp-twice    UDP: every 97th datagram answered twice
"""

import socket
import sys
import threading
import time


def tcp_repeat():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    print(server.getsockname()[1], flush=True)

    def serve(conn):
        reads = 0
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                reads += 1
                conn.sendall(data * (2 if reads == 50 else 1))

    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def udp(mode):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1], flush=True)
    n = 0
    while True:
        data, src = s.recvfrom(65536)
        n += 1
        if n % 97 == 0 and mode == "udp-longer":
            s.sendto(data + b"!", src)
        elif n % 97 == 0 and mode == "udp-twice":
            s.sendto(data, src)
            s.sendto(data, src)
        else:
            s.sendto(data, src)


def main():
    threading.Timer(60, lambda: __import__("os")._exit(0)).start()
    mode = sys.argv[1]
    if mode == "tcp-repeat":
        tcp_repeat()
    else:
        udp(mode)


if __name__ == "__main__":
    main()

"""A client that streams without closing its side, as `cmd | nc`, a file
upload or a chatty protocol do, and waits for the whole echo before it
sends more. It never sends FIN while waiting: a server that waits for the
client's next byte (or its FIN) before sending what it already has stalls
it.

    python3 stream_no_fin.py PORT BYTES CHUNK splice|splice-pause|send ROUNDS

`splice`: the bytes go pipe -> socket with os.splice, CHUNK at a time (so
the socket carries many CHUNK-sized segments, each in a page of its own),
while a thread reads the echo; `splice-pause`: the same, but the round is
written first, then the client pauses 0.2 s before reading it back (so the
server's receive queue fills up meanwhile, as with a reader slower than
the writer); `send`: plain send() of CHUNK bytes with TCP_NODELAY (many
small segments). Prints one line per round; exits 1 at the first round
whose echo is short or wrong.
"""

import os
import socket
import sys
import threading
import time

port, total, chunk, method, rounds = (
    int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))

sock = socket.create_connection(("127.0.0.1", port))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sock.settimeout(5)
pipe_r, pipe_w = os.pipe()

for round_no in range(rounds):
    data = os.urandom(total)
    echo = bytearray()

    def read_echo():
        try:
            while len(echo) < total:
                got = sock.recv(65536)
                if not got:
                    break
                echo.extend(got)
        except socket.timeout:
            pass

    reader = threading.Thread(target=read_echo)
    if method != "splice-pause":
        reader.start()
    for at in range(0, total, chunk):
        piece = data[at:at + chunk]
        if method.startswith("splice"):
            os.write(pipe_w, piece)
            moved = 0
            while moved < len(piece):
                moved += os.splice(pipe_r, sock.fileno(), len(piece) - moved)
        else:
            sock.sendall(piece)
    if method == "splice-pause":
        time.sleep(0.2)
        reader.start()
    reader.join()
    print(f"round {round_no + 1}: {len(echo)} of {total} bytes echoed", flush=True)
    if bytes(echo) != data:
        sys.exit(1)

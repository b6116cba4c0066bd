#!/usr/bin/env python3
"""Presses Enter through `eco lab NAME --step`, as a class would.

    python3 step_through.py [--interrupt-at N] COMMAND [ARG...]

The command runs in a pseudo-terminal (its stdin is a terminal, as in a
classroom). Each time its output ends with a question ("... (Enter) ──"),
this waits a moment to see whether anything more comes before Enter is
pressed (nothing should: the next frame is revealed only then), then
presses Enter. Prints one JSON object: {"prompts": N, "leaked": M,
"status": S, "output": TEXT}, where "leaked" counts the prompts after which
output came before Enter was pressed. With --interrupt-at N, Ctrl-C is
typed at the Nth question instead of Enter.
"""

import json
import os
import pty
import select
import sys
import time


def main():
    command = sys.argv[1:]
    interrupt_at = None
    if command[0] == "--interrupt-at":
        interrupt_at, command = int(command[1]), command[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    out = bytearray()
    prompt = "(Enter) ──".encode()
    prompts = leaked = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the command has ended
            break
        if not chunk:
            break
        out.extend(chunk)
        if out.count(prompt) > prompts:
            prompts += 1
            # A moment for anything that would come before Enter: only
            # the end of the question's line may.
            time.sleep(0.15)
            ready, _, _ = select.select([fd], [], [], 0)
            if ready:
                out.extend(os.read(fd, 65536))
            if out[out.rindex(prompt) + len(prompt):].strip():
                leaked += 1
            # The terminal turns ^C into SIGINT for the foreground group.
            os.write(fd, b"\x03" if prompts == interrupt_at else b"\n")
    _, status = os.waitpid(pid, 0)
    text = out.decode("utf-8", "replace").replace("\r\n", "\n")
    print(json.dumps({"prompts": prompts, "leaked": leaked, "status": os.waitstatus_to_exitcode(status), "output": text}))


if __name__ == "__main__":
    main()

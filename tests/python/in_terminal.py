#!/usr/bin/env python3
"""Runs a command in a terminal of a given width and prints what it wrote.

    python3 in_terminal.py COLUMNS COMMAND [ARG...]

The command gets a real pseudo-terminal (pty) as stdin, stdout and
stderr, COLUMNS wide and 50 rows high (TIOCSWINSZ), as in a terminal
emulator or on a projector. Its output is printed as the terminal
received it, with "\\r\\n" turned back into "\\n"; the exit status is the
command's.
"""

import fcntl
import os
import pty
import struct
import sys
import termios


def main():
    columns, command = int(sys.argv[1]), sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        # The child: its terminal gets the size before the command starts.
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
        os.environ.pop("COLUMNS", None)
        os.execvp(command[0], command)
    out = bytearray()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the command has ended and closed the pty
            break
        if not chunk:
            break
        out.extend(chunk)
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(out.decode("utf-8", "replace").replace("\r\n", "\n"))
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()

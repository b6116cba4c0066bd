#!/usr/bin/env python3
"""Runs a command where io_uring is refused, as Docker's default seccomp
profile refuses it: a seccomp filter makes io_uring_setup, io_uring_enter
and io_uring_register fail with EPERM (everything else is allowed).

    python3 no_io_uring.py eco server --mode uring --port 0

Exits 77 (skip) where the filter cannot be installed.
"""

import ctypes
import os
import platform
import struct
import sys

# The same numbers on x86_64 and aarch64 (the unified syscall table).
IO_URING_SYSCALLS = (425, 426, 427)
EPERM = 1

# Classic BPF, as <linux/filter.h> and <linux/seccomp.h> define it.
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


def instruction(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def main():
    if platform.machine() not in ("x86_64", "aarch64") or len(sys.argv) < 2:
        sys.exit(77)
    program = [instruction(BPF_LD_W_ABS, 0, 0, 0)]  # the system call's number
    for n, nr in enumerate(IO_URING_SYSCALLS):
        # Equal: jump to the "refuse" at the end; else on to the next test.
        to_refuse = len(IO_URING_SYSCALLS) - n
        program.append(instruction(BPF_JEQ_K, to_refuse, 0, nr))
    program.append(instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    program.append(instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM))
    code = b"".join(program)
    buffer = ctypes.create_string_buffer(code, len(code))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(len(program), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit(77)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        sys.exit(77)
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()

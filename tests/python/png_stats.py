#!/usr/bin/env python3
"""Size and ink of a PNG, with the standard library only.

    python3 png_stats.py FILE

Prints one JSON line: {"width": W, "height": H, "ink": N, "colors": C}
where N counts the pixels that are not (nearly) white and C the distinct
colours among them (a coarse count: 4 bits per channel). Reads 8-bit
greyscale, RGB and RGBA images without interlacing, as headless Chromium
writes them.
"""

import json
import struct
import sys
import zlib


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def main():
    data = open(sys.argv[1], "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (0, 2, 6), header
    channels = {0: 1, 2: 3, 6: 4}[color]
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    ink, colors, at = 0, set(), 0
    for _ in range(height):
        kind, line = raw[at], bytearray(raw[at + 1 : at + 1 + stride])
        at += 1 + stride
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = previous[i]
            c = previous[i - channels] if i >= channels else 0
            line[i] = (line[i] + (0, a, b, (a + b) // 2, paeth(a, b, c))[kind]) & 0xFF
        for x in range(0, stride, channels):
            pixel = line[x : x + min(channels, 3)]
            if min(pixel) < 230:
                ink += 1
                colors.add(tuple(v >> 4 for v in pixel))
        previous = line
    print(json.dumps({"width": width, "height": height, "ink": ink, "colors": len(colors)}))


if __name__ == "__main__":
    main()

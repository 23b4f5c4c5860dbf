"""Writes a deterministic photo-like test picture (a landscape: sky, sun, hills, a tree, grain)
as a PNG with the standard library and numpy only: the browser test's "real photo" stand-in,
since the repository ships no photographs."""
import struct
import sys
import zlib

import numpy as np


def landscape(w=320, h=240, seed=3):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    # Sky: a vertical gradient.
    t = y / h
    img[:] = np.stack([90 + 100 * t, 150 + 70 * t, 235 - 20 * t], -1)
    # Sun.
    sun = (x - 250) ** 2 + (y - 50) ** 2 < 22**2
    img[sun] = [255, 236, 170]
    # Two hills with grassy texture.
    for base, amp, freq, phase, colour in [(150, 25, 0.018, 0.5, (70, 130, 60)),
                                           (185, 18, 0.03, 2.0, (50, 105, 40))]:
        ridge = base + amp * np.sin(freq * x + phase)
        mask = y > ridge
        img[mask] = colour
    # A tree: trunk and crown.
    img[(abs(x - 90) < 5) & (y > 120) & (y < 185)] = [95, 60, 30]
    img[(x - 90) ** 2 + ((y - 110) * 1.2) ** 2 < 32**2] = [35, 90, 35]
    # Film grain and a little blur-free shading.
    img += rng.normal(0, 9, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_png(path, rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[i].tobytes() for i in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    write_png(sys.argv[1], landscape())

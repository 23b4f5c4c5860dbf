"""Make the cv2 fixtures in tests/data/cv2 (tests/preprocess.rs reads them; CI needs no Python).

    python -m venv /tmp/cv && /tmp/cv/bin/pip install opencv-python-headless numpy pillow
    /tmp/cv/bin/python tests/data/make_cv2_fixtures.py

Each manifest line is one check of our CPU reference (src/preprocess.rs, src/decode.rs)
against what PaddleClas computes with cv2:
  resize SRC W H EXPECTED        cv2.resize(decoded, (W, H), interpolation=INTER_LINEAR)
  paddle SRC SHORT CROP EXPECTED DecodeImage(to_rgb) + ResizeImage(resize_short) + CropImage
  decode SRC EXPECTED            DecodeImage: cv2.imdecode(IMREAD_COLOR) then BGR -> RGB
  decode-jpeg SRC EXPECTED       the same for a JPEG: libjpeg-turbo's IDCT and chroma upsampling
                                 are not the `image` crate's, so the test allows a small difference
EXPECTED files are 8-bit RGB PNGs. The outputs were identical with opencv-python 4.6.0, 4.14.0
and 5.0.0.
"""
import os

import cv2
import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cv2")
rng = np.random.default_rng(2024)
lines = []


def path(name):
    return os.path.join(OUT, name)


def pattern(h, w, noise, period=1.0):
    """Colour waves plus some noise: every weight and level gets exercised."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64) / period
    rgb = np.stack([
        127.5 + 127.5 * np.sin(x / 7.0 + y / 13.0),
        127.5 + 127.5 * np.cos(x / 5.0 - y / 3.0),
        (x * 255.0 / max(w - 1, 1) * period + y * 3.0) % 256,
    ], axis=-1)
    rgb += rng.normal(0, noise, rgb.shape)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def decode(name):
    # PaddleClas DecodeImage: cv2.imdecode(np.frombuffer(bytes), 1), then [:, :, ::-1].
    data = np.frombuffer(open(path(name), "rb").read(), dtype="uint8")
    return cv2.imdecode(data, 1)[:, :, ::-1]


def save_rgb(name, rgb):
    cv2.imwrite(path(name), np.ascontiguousarray(rgb[:, :, ::-1]))


def paddle(img, short, crop):
    # ResizeImage(resize_short) + CropImage, as ppcls/data/preprocess/ops/operators.py does.
    h, w = img.shape[:2]
    percent = float(short) / min(w, h)
    rw, rh = int(round(w * percent)), int(round(h * percent))
    img = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR)
    x0, y0 = (rw - crop) // 2, (rh - crop) // 2
    return img[y0:y0 + crop, x0:x0 + crop, :]


os.makedirs(OUT, exist_ok=True)
sources = {
    "wave_37x23.png": pattern(23, 37, 40),
    "smooth_330x260.png": pattern(260, 330, 0, period=6.0),
    "wave_97x260.png": pattern(260, 97, 0),
    "wave_1x1.png": pattern(1, 1, 0),
    "wave_5x3.png": pattern(3, 5, 60),
}
for name, rgb in sources.items():
    save_rgb(name, rgb)

# Whole resizes, borders included: up, down, mixed, exact 2x both ways (cv2 takes its
# INTER_AREA path for 2x down), identity.
for src, sizes in {
    "wave_37x23.png": [(50, 31), (13, 7), (74, 46), (37, 23), (5, 40)],
    "smooth_330x260.png": [(165, 130), (17, 250)],
    "wave_5x3.png": [(256, 154), (3, 5), (1, 1)],
    "wave_1x1.png": [(7, 4)],
}.items():
    img = decode(src)
    for w, h in sizes:
        out = "resize_%s_%dx%d.png" % (src[:-4], w, h)
        save_rgb(out, cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR))
        lines.append("resize %s %d %d %s" % (src, w, h, out))

# The full PaddleClas transform, 256/224 and 320/320 (Fix_ResNet50_vd_ssld_v2).
for src in sources:
    for short, crop in [(256, 224)] + [(320, 320)] * src.startswith("smooth"):
        out = "paddle_%s_%d_%d.png" % (src[:-4], short, crop)
        save_rgb(out, paddle(decode(src), short, crop))
        lines.append("paddle %s %d %d %s" % (src, short, crop, out))

# Decoding: gray, gray + alpha, RGBA (alpha ignored, not blended), 16-bit, palette.
base = pattern(20, 30, 30)
Image.fromarray(base[:, :, 1]).save(path("gray_30x20.png"))
Image.fromarray(np.dstack([base[:, :, 0], base[:, :, 2]]), "LA").save(path("gray_alpha_30x20.png"))
Image.fromarray(np.dstack([base, base[:, :, 1:2] // 2]), "RGBA").save(path("rgba_30x20.png"))
wide = base.astype(np.uint16) * 257 + rng.integers(0, 257, base.shape).astype(np.uint16)
cv2.imwrite(path("rgb16_30x20.png"), np.ascontiguousarray(wide[:, :, ::-1]))
Image.fromarray(base).convert("P", palette=Image.ADAPTIVE, colors=16).save(path("palette_30x20.png"))
for src in ["gray_30x20.png", "gray_alpha_30x20.png", "rgba_30x20.png", "rgb16_30x20.png",
            "palette_30x20.png"]:
    out = "decode_" + src
    save_rgb(out, decode(src))
    lines.append("decode %s %s" % (src, out))

# JPEG: colour (4:2:0), gray, and Adobe CMYK as Pillow writes it.
Image.fromarray(pattern(32, 48, 10)).save(path("colour_48x32.jpg"), quality=90)
Image.fromarray(pattern(16, 24, 10)[:, :, 0]).save(path("gray_24x16.jpg"), quality=90)
Image.fromarray(pattern(16, 24, 10)).convert("CMYK").save(path("cmyk_24x16.jpg"), quality=90)
for src in ["colour_48x32.jpg", "gray_24x16.jpg", "cmyk_24x16.jpg"]:
    out = "decode_" + src[:-4] + ".png"
    save_rgb(out, decode(src))
    lines.append("decode-jpeg %s %s" % (src, out))

with open(path("manifest.txt"), "w") as f:
    f.write("# made by tests/data/make_cv2_fixtures.py with opencv %s\n" % cv2.__version__)
    f.write("\n".join(lines) + "\n")
print("wrote", len(lines), "checks to", OUT)

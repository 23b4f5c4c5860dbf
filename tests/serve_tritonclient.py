"""`gpu-resnet serve` called with the real tritonclient (pip), over HTTP and gRPC, tensor and
image input. Run by scripts/test-tritonclient.sh, which installs tritonclient and builds the
binary; GPU_RESNET_BIN names it. Prints pytest-style 'N passed, N failed' and exits non-zero on
any failure."""

import os
import re
import signal
import struct
import subprocess
import sys
import threading
import zlib

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

BIN = os.environ.get("GPU_RESNET_BIN", "target/release/gpu-resnet")
MODEL = "ResNet18"


def start_server():
    proc = subprocess.Popen(
        [BIN, "serve", "--model", MODEL, "--size", "32", "--batch", "1,4",
         "--host", "127.0.0.1", "--port", "0", "--grpc-port", "0"],
        stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        sys.stderr.write("server: " + line)
        m = re.match(r"serving: http (\S+) grpc (\S+)", line)
        if m:
            # Keep draining stderr so the server never blocks on a full pipe.
            threading.Thread(target=lambda: [sys.stderr.write("server: " + l) for l in proc.stderr],
                             daemon=True).start()
            return proc, m.group(1), m.group(2)
    raise RuntimeError("the server exited before serving")


def png_bytes(w=40, h=30):
    """A small RGB PNG, written with zlib alone (no imaging library needed)."""
    raw = b"".join(b"\x00" + b"".join(bytes(((x * 6) % 256, (y * 8) % 256, 100)) for x in range(w))
                   for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def tensor_input(module, x):
    inp = module.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    return inp


def image_input(module, files):
    inp = module.InferInput("image", [len(files)], "BYTES")
    inp.set_data_from_numpy(np.array(files, dtype=np.object_))
    return inp


def main():
    proc, http_addr, grpc_addr = start_server()
    passed, failed = 0, 0
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(3, 3, 32, 32)).astype(np.float32)
    png = png_bytes()
    results = {}

    def check(name, fn):
        nonlocal passed, failed
        try:
            fn()
            passed += 1
            print(f"PASS {name}")
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")

    http = httpclient.InferenceServerClient(http_addr)
    grpc = grpcclient.InferenceServerClient(grpc_addr)

    def metadata(client, grpc_style):
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready(MODEL)
        server = client.get_server_metadata()
        meta = client.get_model_metadata(MODEL)
        if grpc_style:
            assert server.name == "gpu-resnet" and "classification" in server.extensions
            shapes = {t.name: list(t.shape) for t in meta.inputs}
        else:
            assert server["name"] == "gpu-resnet" and "classification" in server["extensions"]
            shapes = {t["name"]: t["shape"] for t in meta["inputs"]}
        assert shapes["x"] == [-1, 3, 32, 32], shapes

    def tensor(module, client, key):
        out = module.InferRequestedOutput("logits")
        r = client.infer(MODEL, [tensor_input(module, x)], outputs=[out])
        logits = r.as_numpy("logits")
        assert logits.shape == (3, 1000) and logits.dtype == np.float32, logits.shape
        assert np.isfinite(logits).all()
        results[key] = logits

    def classification(module, client):
        out = module.InferRequestedOutput("probabilities", class_count=3)
        r = client.infer(MODEL, [tensor_input(module, x[:1])], outputs=[out])
        top = r.as_numpy("probabilities")
        assert top.shape == (1, 3), top.shape
        score, index, _label = top[0][0].decode().split(":", 2)
        assert int(index) == int(np.argmax(results["http"][0])), (index, results["http"][0].argmax())
        assert 0.0 < float(score) <= 1.0

    def image(module, client, key):
        r = client.infer(MODEL, [image_input(module, [png, png])],
                         outputs=[module.InferRequestedOutput("logits")])
        logits = r.as_numpy("logits")
        assert logits.shape == (2, 1000)
        assert np.array_equal(logits[0], logits[1])
        results[key] = logits

    def bad_request(module, client):
        wrong = module.InferInput("x", [1, 3, 16, 16], "FP32")
        wrong.set_data_from_numpy(np.zeros((1, 3, 16, 16), np.float32))
        try:
            client.infer(MODEL, [wrong])
        except InferenceServerException as e:
            assert "[1, 3, 16, 16]" in str(e), str(e)
        else:
            raise AssertionError("a wrong shape was accepted")

    check("http metadata", lambda: metadata(http, False))
    check("grpc metadata", lambda: metadata(grpc, True))
    check("http tensor", lambda: tensor(httpclient, http, "http"))
    check("grpc tensor", lambda: tensor(grpcclient, grpc, "grpc"))
    check("http and grpc agree", lambda: np.testing.assert_array_equal(results["http"], results["grpc"]))
    check("http classification", lambda: classification(httpclient, http))
    check("grpc classification", lambda: classification(grpcclient, grpc))
    check("http image", lambda: image(httpclient, http, "http_image"))
    check("grpc image", lambda: image(grpcclient, grpc, "grpc_image"))
    check("image http and grpc agree",
          lambda: np.testing.assert_array_equal(results["http_image"], results["grpc_image"]))
    check("http bad request", lambda: bad_request(httpclient, http))
    check("grpc bad request", lambda: bad_request(grpcclient, grpc))

    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=60)
    check("exit 0 on SIGTERM", lambda: (_ for _ in ()).throw(AssertionError(code)) if code else None)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

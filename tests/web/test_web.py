"""The classifier page in a real browser: Debian's Chromium, headless, WebGPU on its bundled
SwiftShader, driven by selenium through chromedriver. Checks the golden ResNet18_vd logits
against PaddlePaddle's, a photo classified as the native `predict` classifies it, and that a
bad weights file and a non-image end as messages on the page; saves a screenshot of the page
after classifying the photo. Run by scripts/test-web.sh (which builds web/dist first)."""
import functools
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "web" / "dist"
GOLDEN = ROOT.parent / "shared" / "golden"
MODEL = "ResNet18_vd"
# Batch 1 (the golden input's first image) by default: on SwiftShader batch 2 costs twice the
# time for no more coverage of the kernels. GOLDEN_BATCH=2 runs both images.
BATCH = int(os.environ.get("GOLDEN_BATCH", "1"))
SCREENSHOT = Path(os.environ.get("WEB_SCREENSHOT", ROOT / "target" / "web-screenshot.png"))
NATIVE = os.environ.get("GPU_RESNET_BIN", str(ROOT / "target" / "release" / "gpu-resnet"))


def log(msg):
    print(f"[test-web {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def serve(directory):
    """web/dist and the test's files on 127.0.0.1, a free port, in a thread."""
    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--enable-unsafe-webgpu",
                "--enable-features=Vulkan", "--use-angle=swiftshader",
                "--use-webgpu-adapter=swiftshader", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--window-size=1000,1100",
                f"--user-data-dir={profile}"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_script_timeout(900)
    return driver


def call(driver, script, *args):
    """Run `script` (an async function body returning a value) in the page; raise its error."""
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"(async (...args) => {{ {script} }})(...Array.from(arguments).slice(0, -1))"
        ".then(value => done({value}), e => done({error: String((e && e.message) || e)}));",
        *args)
    if "error" in result:
        raise AssertionError(f"in the page: {result['error']}")
    return result["value"]


def wait_page(driver, url):
    driver.get(url)
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script("return !!window.gpuResnet"))
    return call(driver, "return await window.gpuResnet.adapter();")


def check_golden(driver, base):
    """Through the hook, with no model name: the engine recognises the architecture."""
    paddle = np.load(GOLDEN / f"{MODEL}.logits.npy")[:BATCH]
    start = time.time()
    r = call(driver, """
        const r = await window.gpuResnet.infer(args[0], args[1]);
        return {shape: r.shape, logits: Array.from(r.logits), gpuMs: r.gpuMs, wallMs: r.wallMs};
        """, f"{base}/{MODEL}.pdparams", f"{base}/input.npy")
    ours = np.array(r["logits"], np.float32).reshape(r["shape"])
    assert list(ours.shape) == list(paddle.shape), (ours.shape, paddle.shape)
    diff = float(np.abs(ours - paddle).max())
    bound = 1e-3 * float(np.abs(paddle).max())
    log(f"golden {MODEL} batch {BATCH}: max|ours-paddle| = {diff:.3e} (bound {bound:.3e}); "
        f"load + first run {time.time() - start:.1f} s")
    assert diff <= bound, f"max|ours - paddle| = {diff} > {bound}"
    for i in range(BATCH):
        ours_top = list(np.argsort(-ours[i], kind="stable")[:5])
        paddle_top = list(np.argsort(-paddle[i], kind="stable")[:5])
        assert ours_top == paddle_top, f"image {i}: top-5 {ours_top} != paddle's {paddle_top}"
    # A second run on the compiled plan: the in-browser timing.
    r = call(driver, """
        const r = await window.gpuResnet.infer(args[0], args[1]);
        return {gpuMs: r.gpuMs, wallMs: r.wallMs};
        """, f"{base}/{MODEL}.pdparams", f"{base}/input.npy")
    gpu = "n/a" if r["gpuMs"] is None else f"{r['gpuMs']:.0f} ms"
    log(f"timing {MODEL} batch {BATCH} (second run): GPU {gpu}, wall {r['wallMs']:.0f} ms")


def native_top5(photo):
    out = subprocess.run([NATIVE, "predict", "--model", MODEL, "--weights",
                          str(GOLDEN / f"{MODEL}.pdparams"), "--format", "json", str(photo)],
                         check=True, capture_output=True, text=True).stdout
    return [t["class_id"] for t in json.loads(out)[0]["topk"]]


def choose_files(driver, element_id, paths):
    element = driver.find_element(By.ID, element_id)
    element.clear()  # a `multiple` input would otherwise add to its current files
    element.send_keys("\n".join(str(p) for p in paths))


def error_text(driver):
    box = driver.find_element(By.ID, "error")
    return box.text if box.is_displayed() else ""


def check_photo_and_errors(driver, photo, bad_image, bad_weights):
    # The page's own flow: a model named explicitly, a weights file, an image.
    Select(driver.find_element(By.ID, "model")).select_by_value(MODEL)
    choose_files(driver, "weights", [GOLDEN / f"{MODEL}.pdparams"])
    WebDriverWait(driver, 300).until(
        lambda d: d.find_element(By.ID, "loaded").text.startswith("Loaded") or error_text(d))
    assert not error_text(driver), error_text(driver)
    choose_files(driver, "image", [photo])
    WebDriverWait(driver, 600).until(
        lambda d: d.execute_script("return document.body.dataset.classified") or error_text(d))
    assert not error_text(driver), error_text(driver)
    rows = driver.find_elements(By.CSS_SELECTOR, "#top tr")
    page = [int(r.get_attribute("data-class-id")) for r in rows]
    native = native_top5(photo)
    log(f"photo: page top-5 {page}, native predict top-5 {native}; "
        f"{driver.find_element(By.ID, 'timing').text}")
    assert page == native, f"page top-5 {page} != native {native}"
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOT))
    log(f"screenshot: {SCREENSHOT}")

    # A non-image: the page says which file and why.
    choose_files(driver, "image", [bad_image])
    WebDriverWait(driver, 60).until(error_text)
    log(f"non-image -> {error_text(driver)!r}")
    assert bad_image.name in error_text(driver)
    # Unreadable weights: likewise.
    choose_files(driver, "weights", [bad_weights])
    WebDriverWait(driver, 60).until(error_text)
    log(f"bad weights -> {error_text(driver)!r}")
    assert bad_weights.name in error_text(driver)


def main():
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="gpu-resnet-web-") as tmp:
        tmp = Path(tmp)
        site = tmp / "site"
        site.mkdir()
        for f in DIST.iterdir():
            (site / f.name).symlink_to(f)
        (site / f"{MODEL}.pdparams").symlink_to(GOLDEN / f"{MODEL}.pdparams")
        x = np.load(GOLDEN / f"{MODEL}.input.npy")[:BATCH]
        np.save(site / "input.npy", np.ascontiguousarray(x))
        photo = tmp / "landscape.png"
        subprocess.run([sys.executable, str(Path(__file__).with_name("make_photo.py")), str(photo)],
                       check=True)
        bad_image = tmp / "not-an-image.jpg"
        bad_image.write_bytes(b"this is a text file, not a JPEG\n" * 8)
        bad_weights = tmp / "broken.pdparams"
        bad_weights.write_bytes(b"\x80\x02}q\x00(X\x03\x00\x00\x00abc" + b"\x00" * 64)

        server = serve(site)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        driver = browser(tmp / "profile")
        try:
            log(f"adapter: {wait_page(driver, base + '/')}")
            check_golden(driver, base)
            driver.get(base + "/")  # a fresh page for the UI flow
            WebDriverWait(driver, 60).until(  # the engine is up once the model list is filled
                lambda d: len(d.find_elements(By.CSS_SELECTOR, "#model option")) > 1)
            check_photo_and_errors(driver, photo, bad_image, bad_weights)
        finally:
            for entry in driver.get_log("browser")[-20:] if os.environ.get("WEB_CONSOLE") else []:
                print("console:", entry)
            driver.quit()
            server.shutdown()
    log(f"passed in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()

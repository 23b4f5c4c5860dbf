// The classifier page: wires the file pickers and the drop zone to the wasm engine, and exposes
// `window.gpuResnet` for automated tests. Every failure ends as a message in #error.
import init, { Engine } from "./gpu_resnet_web.js";

const $ = (id) => document.getElementById(id);

function showError(e) {
  const box = $("error");
  box.textContent = (e && e.message) || String(e);
  box.hidden = false;
  console.error(e);
}
function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}
window.addEventListener("error", (ev) => showError(ev.error || ev.message));
window.addEventListener("unhandledrejection", (ev) => showError(ev.reason));

// The engine, created once: the wasm module, then the browser's WebGPU adapter and device.
let enginePromise = null;
function engine() {
  enginePromise ??= (async () => {
    if (!navigator.gpu) {
      throw new Error("This browser has no WebGPU (navigator.gpu is missing): use a recent " +
        "Chrome, Edge or Chromium (or enable WebGPU in its flags), served over http(s)://localhost or https.");
    }
    await init();
    const e = await Engine.create();
    $("adapter").textContent = (await browserAdapter()) + " — " + e.adapter() +
      (e.hasGpuTimer() ? "; GPU time from timestamp queries" : "; no timestamp queries: wall time shown");
    $("adapter").classList.remove("muted");
    for (const name of Engine.models()) $("model").add(new Option(name, name));
    return e;
  })();
  return enginePromise;
}

// The browser's own words for its adapter (wgpu's adapter info has no name on WebGPU).
async function browserAdapter() {
  const info = (await navigator.gpu.requestAdapter())?.info;
  if (!info) return "WebGPU";
  return "WebGPU: " + ([info.vendor, info.architecture, info.device, info.description]
    .filter((s) => s).join(" / ") || "adapter without a description");
}

// What is loaded now, so that repeated calls with the same weights do not upload them again.
let loadedKey = null;
async function load(files, model) {
  const e = await engine();
  const key = JSON.stringify([files.map((f) => [f.name, f.size, f.lastModified ?? f.url]), model ?? ""]);
  if (key === loadedKey) return;
  loadedKey = null;
  const names = files.map((f) => f.name);
  const bytes = await Promise.all(files.map(async (f) => new Uint8Array(await f.arrayBuffer())));
  const description = e.load(names, bytes, model || undefined);
  loadedKey = key;
  $("loaded").textContent = "Loaded: " + description + ".";
}

async function classifyBytes(bytes, name, k) {
  const e = await engine();
  const start = performance.now();
  const r = await e.classify(bytes, name, k);
  return { top: r.top, gpuMs: r.gpuMs, wallMs: performance.now() - start };
}

function timingText(r) {
  return r.gpuMs != null
    ? `GPU time ${r.gpuMs.toFixed(1)} ms (timestamp queries: preprocessing + network); ` +
      `wall time ${r.wallMs.toFixed(1)} ms (a model's first image also compiles its pipelines)`
    : `wall time ${r.wallMs.toFixed(1)} ms (this browser exposes no timestamp queries: ` +
      `includes upload and read-back)`;
}

function render(file, r) {
  $("preview").src = URL.createObjectURL(file);
  const rows = r.top.map((p, i) => {
    const tr = document.createElement("tr");
    tr.dataset.classId = p.classId;
    const pct = (100 * p.score).toFixed(2);
    tr.innerHTML = `<td>${i + 1}</td><td></td><td class="score">${pct}%</td>` +
      `<td><div class="bar" style="width:${Math.max(1, 8 * p.score)}rem"></div></td>`;
    tr.children[1].textContent = `${p.label} (${p.classId})`;
    return tr;
  });
  $("top").replaceChildren(...rows);
  $("timing").textContent = timingText(r);
  $("result").hidden = false;
}

// The page's own flow: weights chosen (or model changed) -> load; image chosen -> classify.
async function onWeights() {
  clearError();
  const files = [...$("weights").files];
  if (files.length === 0) return;
  $("loaded").textContent = "Loading…";
  try {
    await load(files, $("model").value);
  } catch (e) {
    $("loaded").textContent = "";
    showError(e);
  }
}
async function onImage(file) {
  clearError();
  $("result").hidden = true;
  try {
    if (loadedKey === null) throw new Error("Choose a weights file first (step 1).");
    const bytes = new Uint8Array(await file.arrayBuffer());
    render(file, await classifyBytes(bytes, file.name, 5));
    document.body.dataset.classified = file.name;
  } catch (e) {
    showError(e);
  }
}
$("weights").addEventListener("change", onWeights);
$("model").addEventListener("change", onWeights);
$("image").addEventListener("change", () => $("image").files[0] && onImage($("image").files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  drop.classList.remove("over");
  const file = ev.dataTransfer.files[0];
  if (file) onImage(file);
});

// Automation hook for tests: weights by URL (or several URLs: a Paddle inference model's
// files); `model` is optional (the engine recognises the architecture where it can).
async function fetchFile(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const blob = await response.blob();
  return { name: decodeURIComponent(new URL(url, location.href).pathname.split("/").pop()),
           size: blob.size, url, arrayBuffer: () => blob.arrayBuffer() };
}
async function loadUrls(weightsUrl, model) {
  const urls = Array.isArray(weightsUrl) ? weightsUrl : [weightsUrl];
  await load(await Promise.all(urls.map(fetchFile)), model);
}
window.gpuResnet = {
  adapter: async () => { await engine(); return $("adapter").textContent; },
  async infer(weightsUrl, inputNpyUrl, model) {
    await loadUrls(weightsUrl, model);
    const npy = new Uint8Array(await (await fetchFile(inputNpyUrl)).arrayBuffer());
    const start = performance.now();
    const r = await (await engine()).infer(npy);
    return { shape: Array.from(r.shape), logits: r.logits, gpuMs: r.gpuMs,
             wallMs: performance.now() - start };
  },
  async classify(weightsUrl, imageUrl, k = 5, model) {
    await loadUrls(weightsUrl, model);
    const image = await fetchFile(imageUrl);
    return classifyBytes(new Uint8Array(await image.arrayBuffer()), image.name, k);
  },
};

engine().catch(showError);

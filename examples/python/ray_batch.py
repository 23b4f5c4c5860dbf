"""Batch classification past one machine: gpu-resnet on Ray Data.

    python examples/python/ray_batch.py PHOTOS_DIR --weights ResNet50_vd_infer/ \
        --actors 4 --batch-size 16 --gpus-per-actor 1 --output results.csv

Ray Data reads the images (``read_binary_files``: on a cluster give paths every node can read,
a shared file system, or storage URIs such as ``s3://bucket/photos/``), ``map_batches`` hands batches of encoded images to a pool of
actors (``compute=ray.data.ActorPoolStrategy(size=N)``), each of which opened one
``gpu_resnet.Model`` in ``__init__`` and keeps it for every batch, and the driver writes one
row per image (path, top-1 class, score, label, the top-k as JSON) to a CSV or JSON file.

Which GPU an actor uses. With ``--gpus-per-actor 1`` Ray gives each actor a GPU and sets
``CUDA_VISIBLE_DEVICES`` to its id; wgpu's Vulkan adapters ignore that variable (they list
every GPU), so ``ray_adapter()`` maps it: it asks ``nvidia-smi`` for the PCI bus id of the
GPU Ray assigned (``--query-gpu=index,uuid,pci.bus_id``) and picks the gpu-resnet adapter
whose ``pci_bus_id`` (``gpu_resnet.adapters()``, from Vulkan's VK_EXT_pci_bus_info) is the
same. Where that cannot be done (no ``nvidia-smi``: AMD or Intel GPUs, or a driver that does
not report the bus id) it says so on stderr and takes the adapter of the same index among
the Vulkan adapters of type DiscreteGpu, which is right when every node enumerates its GPUs in
PCI order (both CUDA's ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` and Mesa/NVIDIA's Vulkan do). Without
``--gpus-per-actor`` actors take wgpu's preferred adapter (a CPU implementation such as
lavapipe on a machine without a GPU).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


def normalise_bus_id(bus_id: str) -> Optional[tuple[int, int, int, int]]:
    """``00000000:3B:00.0`` (nvidia-smi) and ``0000:3b:00.0`` (Vulkan) as (domain, bus,
    device, function)."""
    try:
        domain, bus, devfn = bus_id.strip().lower().rsplit(":", 2)
        dev, fn = devfn.split(".")
        return int(domain, 16), int(bus, 16), int(dev, 16), int(fn, 16)
    except ValueError:
        return None


def assigned_gpu() -> Optional[str]:
    """The id (index or UUID) of the GPU Ray gave this actor, or None."""
    try:
        import ray

        ids = ray.get_gpu_ids()
        if ids:
            return str(ids[0])
    except Exception:  # noqa: BLE001 - outside Ray: fall back to the environment
        pass
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return visible or None


def ray_adapter(gpu: Optional[str]) -> tuple[Optional[int], Optional[str]]:
    """(adapter index, backend) for CUDA GPU ``gpu``; (None, None) for wgpu's choice."""
    if gpu is None:
        return None, None
    import gpu_resnet

    vulkan = gpu_resnet.adapters("vulkan")
    smi = shutil.which("nvidia-smi")
    if smi:
        query = [smi, "--query-gpu=index,uuid,pci.bus_id", "--format=csv,noheader"]
        out = subprocess.run(query, capture_output=True, text=True, timeout=30).stdout
        for line in out.splitlines():
            index, uuid, bus = (f.strip() for f in line.split(","))
            if gpu in (index, uuid):
                want = normalise_bus_id(bus)
                for a in vulkan:
                    if want is not None and normalise_bus_id(a["pci_bus_id"]) == want:
                        return a["index"], "vulkan"
    discrete = [a for a in vulkan if a["device_type"] == "DiscreteGpu"]
    print(f"ray_batch: no PCI bus id match for GPU {gpu}; taking discrete Vulkan adapter number {gpu}", file=sys.stderr)
    if gpu.isdigit() and int(gpu) < len(discrete):
        return discrete[int(gpu)]["index"], "vulkan"
    return None, None


class Classify:
    """The actor: opens the model once, then classifies each batch of encoded images."""

    def __init__(self, weights: Optional[str], model: Optional[str], classes: Optional[int], topk: int, precision: str):
        import gpu_resnet

        adapter, backend = ray_adapter(assigned_gpu())
        self.model = gpu_resnet.Model(weights, model=model, classes=classes, precision=precision, adapter=adapter, backend=backend)
        self.topk = topk

    def __call__(self, batch: dict) -> dict:
        images = [bytes(b) for b in batch["bytes"]]
        top = self.model.predict(images, topk=self.topk)
        return {
            "path": np.asarray(batch["path"]),
            "class_id": np.array([t[0]["class_id"] for t in top], np.int64),
            "score": np.array([t[0]["score"] for t in top], np.float64),
            "label": np.array([t[0]["label"] for t in top], dtype=object),
            "topk": np.array([json.dumps(t) for t in top], dtype=object),
        }


def image_files(inputs: list[str]) -> list[str]:
    files = []
    for item in inputs:
        if "://" in item:  # storage URIs: Ray Data lists them itself
            files.append(item)
            continue
        p = Path(item)
        if p.is_dir():
            files += sorted(str(f) for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            files.append(str(p))
    return files


def classify(files: list[str], *, weights=None, model=None, classes=None, topk=5, precision="fp32", actors=2, batch_size=8, gpus_per_actor=0.0):
    """Runs the pipeline on ``files`` (Ray must be initialised): one dict per image."""
    import ray

    ds = ray.data.read_binary_files(files, include_paths=True)
    ds = ds.map_batches(
        Classify,
        fn_constructor_kwargs=dict(weights=weights, model=model, classes=classes, topk=topk, precision=precision),
        compute=ray.data.ActorPoolStrategy(size=actors),
        batch_size=batch_size,
        batch_format="numpy",
        num_gpus=gpus_per_actor or None,
    )
    return list(ds.iter_rows())


def write_table(rows: list[dict], output: Path) -> None:
    rows = sorted(rows, key=lambda r: r["path"])
    fields = ["path", "class_id", "score", "label", "topk"]
    if output.suffix == ".json":
        output.write_text(json.dumps([{k: (r[k].item() if hasattr(r[k], "item") else r[k]) for k in fields} for r in rows], indent=1))
        return
    with output.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(fields)
        for r in rows:
            w.writerow([r[k] for k in fields])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="+", help="image files or folders")
    ap.add_argument("--weights", help="any file or directory `gpu-resnet infer` reads")
    ap.add_argument("--model", help="a model name (needed for synthetic weights)")
    ap.add_argument("--classes", type=int, help="classes of synthetic weights")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--topk", type=int, default=5)
    ap.add_argument("--actors", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--gpus-per-actor", type=float, default=0.0)
    ap.add_argument("--num-cpus", type=int, help="for a local cluster: ray.init(num_cpus=...)")
    ap.add_argument("--address", help="an existing Ray cluster (ray.init(address=...))")
    ap.add_argument("--output", type=Path, default=Path("results.csv"), help=".csv or .json")
    args = ap.parse_args(argv)

    import ray

    files = image_files(args.inputs)
    if not files:
        print("ray_batch: no images found", file=sys.stderr)
        return 2
    ray.init(address=args.address, num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        rows = classify(files, weights=args.weights, model=args.model, classes=args.classes, topk=args.topk,
                        precision=args.precision, actors=args.actors, batch_size=args.batch_size,
                        gpus_per_actor=args.gpus_per_actor)
    finally:
        ray.shutdown()
    write_table(rows, args.output)
    print(f"ray_batch: {len(rows)} images classified by {args.actors} actors -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

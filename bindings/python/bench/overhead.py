"""What the Python layer adds to a run: Model.run(x) against the Rust API (Session::run)
on the same session, so the same cached plan, at ResNet50 batch 1 (224x224).

    python bindings/python/bench/overhead.py [--model ResNet50] [--size 224] [--rounds 7]

Rounds alternate the two (each round: `--per-round` Python runs, then as many Rust runs, timed
in Rust); the figure is best-of-all for each, since on a shared machine the minimum is the
least disturbed. Python's side includes the argument conversion (none for a C-contiguous
float32 array), the GIL release, the host copy in and out that Session::run does anyway and
the numpy array made of the logits. The target: at most 2%.
"""

import argparse
import statistics
import time

import numpy as np

import gpu_resnet


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="ResNet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--per-round", type=int, default=3)
    ap.add_argument("--precision", default="fp32")
    args = ap.parse_args()

    model = gpu_resnet.Model(model=args.model, precision=args.precision)
    x = np.random.default_rng(0).standard_normal((args.batch, 3, args.size, args.size), dtype=np.float32)
    model.run(x)  # compile the plan once
    model._rust_run_times(x, 1)

    py_times, rust_times = [], []
    for _ in range(args.rounds):
        for _ in range(args.per_round):
            start = time.perf_counter()
            model.run(x)
            py_times.append(time.perf_counter() - start)
        rust_times += model._rust_run_times(x, args.per_round)

    best_py, best_rust = min(py_times), min(rust_times)
    med_py, med_rust = statistics.median(py_times), statistics.median(rust_times)
    print(f"{args.model} batch {args.batch} {args.size}x{args.size} {args.precision} on {model.adapter}")
    print(f"runs: {len(py_times)} each, alternating rounds of {args.per_round}")
    print(f"Rust Session::run  best {best_rust * 1e3:9.3f} ms  median {med_rust * 1e3:9.3f} ms")
    print(f"Python Model.run   best {best_py * 1e3:9.3f} ms  median {med_py * 1e3:9.3f} ms")
    print(f"overhead: best {100 * (best_py / best_rust - 1):+.2f}%  median {100 * (med_py / med_rust - 1):+.2f}%"
          f"  (absolute, best: {(best_py - best_rust) * 1e6:+.0f} us)")


if __name__ == "__main__":
    main()

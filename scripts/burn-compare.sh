#!/usr/bin/env bash
# gpu-resnet against burn's wgpu backend, back to back on the adapter wgpu picks, FP32, 224x224,
# random weights: one markdown table of median wall times and their ratio (burn / gpu-resnet).
# Both sides time the same thing per run: upload the input, run the model, read the logits back.
#
#   scripts/burn-compare.sh
#
# Environment: MODELS (default ResNet50,ResNet18), BATCH (default 1,8), ITERS (timed runs,
# default 5), WARMUP (untimed runs before them, default 2), GPU_RESNET (the binary, default
# $CARGO_TARGET_DIR/release/gpu-resnet, built if missing), BURN_TARGET_DIR (where the burn bench
# builds, default $CARGO_TARGET_DIR, else benches/burn/target). gpu-resnet uses a tuning cache if `gpu-resnet tune` wrote one
# (GPU_RESNET_TUNE=off for the default tiles); the table says how many convs were tuned.
# The first burn build compiles burn's whole tree (tens of minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
models=${MODELS:-ResNet50,ResNet18}
batch=${BATCH:-1,8}
iters=${ITERS:-5}
warmup=${WARMUP:-2}
bin=${GPU_RESNET:-${CARGO_TARGET_DIR:-target}/release/gpu-resnet}
burn_target=${BURN_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/benches/burn/target}}
burn_bin=$burn_target/release/burn-resnet-bench

[ -x "$bin" ] || cargo build --release --quiet
(cd benches/burn && CARGO_TARGET_DIR=$burn_target cargo build --release --locked --quiet)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
peak=$("$bin" peak)
"$bin" bench --models "$models" --batch "$batch" --precision f32 --size 224 \
  --warmup "$warmup" --iters "$iters" --max-seconds 100000 --format json >"$tmp/ours.json"
"$burn_bin" --models "$models" --batch "$batch" --warmup "$warmup" --iters "$iters" \
  --format json >"$tmp/burn.json"

python3 - "$tmp/ours.json" "$tmp/burn.json" "$peak" "$iters" "$warmup" <<'EOF'
import json, subprocess, sys, datetime
ours, burn = (json.load(open(p)) for p in sys.argv[1:3])
peak, iters, warmup = sys.argv[3:6]
adapter = ours["adapter"]
print(f"# gpu-resnet vs burn, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n")
print(f"- {ours['engine']} on {adapter['name']} ({adapter['backend']}, {adapter['driver']})")
print(f"- {burn['engine']} on {burn['adapter']}")
if burn["adapter"] != adapter["name"]:
    print("- **warning: the two ran on different adapters**")
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                     capture_output=True, text=True).stdout.strip() or "unknown"
print(f"- CPU: {cpu}; load average at the end: {open('/proc/loadavg').read().split()[:3]}")
for line in peak.splitlines():
    if line.startswith("FP32 FMA peak"):
        print(f"- `gpu-resnet peak`: {line}")
print(f"- FP32, 224x224, random weights; {warmup} warm-up + {iters} timed runs each; a run is "
      "upload + forward + logits read back on both sides (wall time)\n")
by_key = {(r["model"], r["batch"]): r for r in burn["results"]}
print("| model | batch | gpu-resnet median ms | burn median ms | burn / gpu-resnet | gpu-resnet tuned convs |")
print("|---|---:|---:|---:|---:|---|")
for r in ours["results"]:
    b = by_key.get((r["model"], r["batch"]))
    assert r["input_size"] == 224 and (b is None or b["input_size"] == 224)
    g = r["wall_ms"]["median"]
    bm = f"{b['wall_ms']['median']:.1f}" if b else "n/a"
    ratio = f"{b['wall_ms']['median'] / g:.2f}x" if b else "n/a"
    tuned = f"{r['tuned_convs']}/{r['convs']}" + ("" if r["tuned_convs"] else " (untuned)")
    print(f"| {r['model']} | {r['batch']} | {g:.1f} | {bm} | {ratio} | {tuned} |")
if adapter.get("noisy"):
    print(f"\ngpu-resnet's noise check: {adapter['noisy']}")
print("\nburn warm-up runs (ms): " + "; ".join(
    f"{r['model']} b{r['batch']}: {', '.join(f'{w:.0f}' for w in r['warmup_ms'])}"
    for r in burn["results"]))
EOF

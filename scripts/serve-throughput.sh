#!/usr/bin/env bash
# The serving throughput table of docs/serving.md: one model served with synthetic weights,
# `loadgen` at each concurrency level, and the bare batch-1 latency from `bench` in the same run.
# Usage: scripts/serve-throughput.sh MODEL SIZE SECONDS [BINARY]   (run on a quiet machine)
# The bare batch-1 latency: `bench` at 224, else the server's warm-up cost of its 1-plan.
set -euo pipefail
model=${1:?model}; size=${2:?size}; secs=${3:?seconds}
bin=${4:-target/release/gpu-resnet}
port=${PORT:-18400}
echo "== $bin: $model at ${size}x${size}, ${secs} s a level; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# bench times the model's own input size; at other sizes the server's warm-up line is the bare figure
[ "$size" = 224 ] && "$bin" bench --models "$model" --batch 1 --precision f32 --iters 7 2>&1 | grep -v '^$' || true
"$bin" serve --model "$model" --size "$size" --port "$port" --grpc-port $((port + 1)) \
  >"/tmp/serve-throughput-$port.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null && break
  kill -0 $server 2>/dev/null || { cat "/tmp/serve-throughput-$port.log"; exit 1; }
  sleep 0.5
done
grep -i "warm\|plan" "/tmp/serve-throughput-$port.log" | head -12 || true
"$bin" loadgen --url "http://127.0.0.1:$port" --model "$model" --concurrency 1,4,8,16 --duration "$secs"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# Device check (issue 7 / issue 3): metatape's CLI, bundled, on the GPU through WebGPU (Dawn over Vulkan).
# Carried: a bundled CLI, node (xz), dawn.node (gz), Debian 13 libc (Dawn needs glibc >= 2.38), the Vulkan
# loader debs, and the Omniglot sources. Writes logs to $OUT.
set -uo pipefail
cd "$(dirname "$0")"
OUT="${OUT:-/tmp/devout}"; mkdir -p "$OUT"
RT=/tmp/rt; mkdir -p $RT
for f in debs/*.deb; do dpkg -x "$f" $RT; done
if [ -z "${LOCAL:-}" ]; then for f in gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
[ -x /tmp/node ] || xz -dc node.xz > /tmp/node; chmod +x /tmp/node
[ -f node_modules/webgpu/dist/linux-x64.dawn.node ] || gunzip -k node_modules/webgpu/dist/linux-x64.dawn.node.gz
LIB=$RT/usr/lib/x86_64-linux-gnu
export XDG_RUNTIME_DIR=$(mktemp -d)
if [ -z "${LOCAL:-}" ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$OUT/gpu.txt"
fi
node_() { "$LIB/ld-linux-x86-64.so.2" --library-path "$LIB:/usr/lib/x86_64-linux-gnu:/usr/local/nvidia/lib64" /tmp/node "$@"; }
M=cli/metatape.mjs
export METATAPE_LOG_LEVEL=info
echo '=== doctor'; node_ $M doctor --backend gpujs:webgpu 2>&1 | tee "$OUT/doctor.txt"
echo '=== prepare'; node_ $M datasets prepare omniglot --from omniglot-src --out datasets/omniglot 2>&1 | tail -3
ITERS="${ITERS:-20}"
for b in ${BACKENDS:-cpu gpujs:webgpu}; do
  echo "=== conv4 5-way 1-shot, order 2, $ITERS iterations on $b"
  start=$(date +%s)
  node_ $M run ../configs/omniglot-5w1s-conv4.yaml --backend $b --set trainer.iterations=$ITERS \
    --set logging.every=5 --set eval.tasks=${EVAL_TASKS:-32} --set eval.every=0 --set eval.steps=[1,3] --out "/tmp/runs-${b/:/-}" \
    > "$OUT/conv4-${b/:/-}.log" 2>&1
  echo "exit=$? wall=$(( $(date +%s) - start ))s"
  grep -o '"device":"[^"]*"' "$OUT/conv4-${b/:/-}.log" | head -1
  grep -E 'itPerSec|test/accuracy@K1/3steps' "$OUT/conv4-${b/:/-}.log" | tail -3 | cut -c1-300
  cp /tmp/runs-${b/:/-}/*/*/summary.md "$OUT/summary-${b/:/-}.md" 2>/dev/null
done

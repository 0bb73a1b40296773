#!/usr/bin/env bash
# Issue 17's device check, in one call on a lent NVIDIA machine (no Node, no network; see bench/device/README.md):
#   setup     unpack the kit (node, Debian 13's libc, dawn.node, the Vulkan loader); nvidia-smi   -> $OUT/setup.txt
#   prepare   Omniglot from the carried .npz files                                                  -> $OUT/conv4.log
#   doctor    `metatape doctor --backend gpujs:webgpu`: adapter, kernels, counters per warm call -> $OUT/doctor.txt
#   conv4     Omniglot 5-way 1-shot conv4, second-order MAML, $ITERS iterations, then the test
#             accuracy (configs/omniglot-5w1s-conv4.yaml)      -> $OUT/conv4.log, conv4-metrics.jsonl, conv4-summary.md
#   steps     dispatches/compiles/uploads/reads per warm second-order meta-iteration, sinusoid
#             and conv4, fusion off and on (bench/device/steps.ts)                                  -> $OUT/steps.md
#   summary   phases, doctor's lines, the counters, steady-state meta-it/s, accuracy               -> $OUT/summary.md
# Each phase runs under `timeout` within an overall budget and its output is saved as it comes, so a phase that
# fails or runs out of time costs only itself; the summary always prints last.
# Usage (device): bash .devkit/run.sh      (carry .devkit; the run tool's timeout_s above $BUDGET + 30)
# Locally, over Mesa's lavapipe (no nvidia), small:
#   LOCAL=1 ITERS=6 META_BATCH=2 EVAL_TASKS=8 LOG_EVERY=2 STEP_KINDS=sinusoid bash .devkit/run.sh
set -uo pipefail
KIT="$(cd "$(dirname "$0")" && pwd)"
OUT="${OUT:-/tmp/metatape-devout}"
WORK="${WORK:-/tmp/metatape-device}"
ITERS="${ITERS:-300}"
META_BATCH="${META_BATCH:-}" # empty: the config's 32
EVAL_TASKS="${EVAL_TASKS:-200}"
LOG_EVERY="${LOG_EVERY:-10}" # logging window; the first one (compiles) is left out of the steady state
STEP_KINDS="${STEP_KINDS:-sinusoid conv4}"
BACKEND="${BACKEND:-gpujs:webgpu}"
BUDGET="${BUDGET:-330}" # seconds for the whole script
CONV4_CAP="${CONV4_CAP:-200}" # of it, at most for the conv4 run (the counters get what is left, up to 150)
RESERVE=15              # of the budget, kept for the summary
mkdir -p "$OUT" "$WORK"
PHASES="$WORK/phases.tsv"
: >"$PHASES"
START=$(date +%s)

# phase NAME CAP FILE CMD...: runs CMD for at most CAP seconds (less if the budget has less left), its output
# appended to $OUT/FILE as it comes and echoed; records name, exit status, seconds and limit in $PHASES.
phase() {
  local name=$1 cap=$2 file=$3
  shift 3
  local left=$((BUDGET - RESERVE - ($(date +%s) - START)))
  local limit=$((cap < left ? cap : left))
  if ((limit < 5)); then
    echo "=== $name: skipped (${left} s of the budget left)"
    printf '%s\t-1\t0\t%s\n' "$name" "$limit" >>"$PHASES"
    return
  fi
  echo "=== $name (at most ${limit} s)" | tee -a "$OUT/$file"
  local t0
  t0=$(date +%s)
  timeout -k 5 "$limit" "$@" 2>&1 | tee -a "$OUT/$file"
  local rc=${PIPESTATUS[0]}
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(($(date +%s) - t0))" "$limit" >>"$PHASES"
  echo "=== $name: exit $rc after $(($(date +%s) - t0)) s"
}

# Node through Debian 13's loader and libc, kept out of the system's: a wrapper that `timeout` can start.
RT="$WORK/rt"
LIB="$RT/usr/lib/x86_64-linux-gnu"
NODE="$WORK/node"
setup() {
  set -e
  mkdir -p "$RT"
  for f in "$KIT"/debs/*.deb; do dpkg -x "$f" "$RT"; done
  # The Vulkan loader and glvnd go to / (the NVIDIA ICD needs them there); lavapipe brings its own locally.
  if [ -z "${LOCAL:-}" ]; then
    for f in "$KIT"/gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  [ -x "$WORK/node.bin" ] || xz -dc "$KIT/node.xz" >"$WORK/node.bin"
  chmod +x "$WORK/node.bin"
  local dawn="$KIT/node_modules/webgpu/dist/linux-x64.dawn.node"
  [ -f "$dawn" ] || xz -dk "$dawn.xz"
  cat >"$NODE" <<EOF
#!/bin/sh
exec "$LIB/ld-linux-x86-64.so.2" --library-path "$LIB:/usr/lib/x86_64-linux-gnu:/usr/local/nvidia/lib64" "$WORK/node.bin" "\$@"
EOF
  chmod +x "$NODE"
  "$NODE" --version
  if [ -z "${LOCAL:-}" ]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    nvidia-smi
  fi
  ldconfig -p | grep libvulkan || echo "no libvulkan in the loader's cache"
}
export XDG_RUNTIME_DIR="$WORK/xdg"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
# Where the lent machines' driver keeps its Vulkan ICD (the device README); elsewhere the loader searches itself.
if [ -z "${LOCAL:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
export METATAPE_LOG_LEVEL=info
export -f setup
export KIT WORK RT LIB NODE LOCAL="${LOCAL:-}"
phase setup 90 setup.txt bash -c setup

CLI="$KIT/app/cli/metatape.mjs"
# Omniglot first (seconds), so that doctor finds it prepared.
if [ -f "$WORK/omniglot/manifest.json" ]; then
  echo "=== prepare: $WORK/omniglot already prepared"
else
  phase prepare 90 conv4.log "$NODE" "$CLI" datasets prepare omniglot --from "$KIT/omniglot-src" --dir "$WORK/omniglot"
fi
phase doctor 90 doctor.txt "$NODE" "$CLI" doctor --backend "$BACKEND" --dataset-dir "$WORK/omniglot"
rm -rf "$WORK/runs"
sets=(--set "trainer.iterations=$ITERS" --set "logging.every=$LOG_EVERY" --set "logging.checkpointEvery=1000000"
  --set "eval.tasks=$EVAL_TASKS" --set eval.every=0 --set "eval.steps=[1,3]" --set "data.root=$WORK/omniglot")
[ -n "$META_BATCH" ] && sets+=(--set "trainer.metaBatchSize=$META_BATCH")
# The headline first: the counters are the same on any device, the speed and accuracy are what the GPU is for.
phase conv4 "$CONV4_CAP" conv4.log "$NODE" "$CLI" run "$KIT/omniglot-5w1s-conv4.yaml" --backend "$BACKEND" "${sets[@]}" \
  --out "$WORK/runs"
RUN_DIR=$(find "$WORK/runs" -mindepth 2 -maxdepth 2 -type d 2>/dev/null | head -1)
if [ -n "$RUN_DIR" ]; then
  cp "$RUN_DIR/metrics.jsonl" "$OUT/conv4-metrics.jsonl" 2>/dev/null
  cp "$RUN_DIR/summary.md" "$OUT/conv4-summary.md" 2>/dev/null
fi

# shellcheck disable=SC2086 # STEP_KINDS is a list of words
phase steps 150 steps.md "$NODE" "$KIT/app/cli/steps.mjs" "${BACKEND#gpujs:}" $STEP_KINDS
echo "=== summary ($(($(date +%s) - START)) s since the start)"
timeout 30 "$NODE" "$KIT/summarize.mjs" "$OUT" "$PHASES" ${RUN_DIR:+"$RUN_DIR"} || {
  echo "summary failed; the phases (name, exit, seconds, limit):"
  cat "$PHASES"
}

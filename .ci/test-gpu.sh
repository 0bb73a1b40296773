#!/usr/bin/env bash
# Runs the gpu.js backend suite (test/backends/gpujs: every primitive, the op table's values and first/second-
# order gradients, the compile-count and aliasing contracts) once per gpu.js mode, each in the environment the
# mode needs. Run .ci/install-gpu.sh first. A mode that genuinely cannot run is skipped with a loud message;
# a mode that runs and fails fails this script.
#   bash .ci/test-gpu.sh                      # webasm+cpu, headlessgl, webgpu
#   bash .ci/test-gpu.sh webgpu               # one mode
set -uo pipefail
cd "$(dirname "$0")/.."

WEBGPU_RUNTIME="${WEBGPU_RUNTIME:-$HOME/.cache/metatape/webgpu-runtime}"
# Dawn warns when there is no XDG runtime dir; give it a private one.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
SUITE=(npx vitest run test/backends/gpujs)

failed=()
skipped=()

skip() {
  printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n'
  printf '!!! SKIPPING gpu.js mode %s: %s\n' "$1" "$2"
  printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n'
  skipped+=("$1")
}

run_mode() {
  local mode="$1"
  shift
  printf '\n=== gpu.js suite: %s ===\n' "$mode"
  if ! METATAPE_GPU_MODES="$mode" "$@" "${SUITE[@]}"; then failed+=("$mode"); fi
}

test_headlessgl() {
  if ! command -v xvfb-run >/dev/null; then
    skip headlessgl 'xvfb-run is missing (bash .ci/install-gpu.sh headlessgl)'
  elif ! xvfb-run -a node -e "const c = require('gl')(1, 1); if (!c) process.exit(1)" 2>/dev/null; then
    skip headlessgl "the gl addon is not built or cannot open a context (bash .ci/install-gpu.sh headlessgl)"
  else
    run_mode headlessgl xvfb-run -a -s '-screen 0 1024x768x24'
  fi
}

test_webgpu() {
  if [ ! -x "$WEBGPU_RUNTIME/bin/node" ]; then
    skip webgpu "no runtime at $WEBGPU_RUNTIME (bash .ci/install-gpu.sh webgpu)"
  else
    # The re-linked node first in PATH: npx, vitest and its forked workers all run on it.
    run_mode webgpu env PATH="$WEBGPU_RUNTIME/bin:$PATH"
  fi
}

modes=("$@")
if [ ${#modes[@]} -eq 0 ]; then modes=(webasm,cpu headlessgl webgpu); fi
for m in "${modes[@]}"; do
  case "$m" in
    headlessgl) test_headlessgl ;;
    webgpu) test_webgpu ;;
    *) run_mode "$m" env ;;
  esac
done

printf '\n=== gpu.js suite summary: failed [%s] skipped [%s] ===\n' "${failed[*]:-}" "${skipped[*]:-}"
[ ${#failed[@]} -eq 0 ]

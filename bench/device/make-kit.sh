#!/usr/bin/env bash
# Builds .devkit/, the self-contained kit that bench/device/run.sh runs on a GPU machine that has no Node,
# no npm and no network (the `device` machines of this workplace; any bare Linux box with an NVIDIA driver):
# the CLI bundled with esbuild, gpu.js and webgpu's dawn.node, a compressed node binary, Debian 13's libc
# (Dawn needs glibc >= 2.38, see .ci/install-gpu.sh), the Vulkan loader .debs and the Omniglot sources.
# Usage: bash .ci/install-gpu.sh webgpu && bash bench/device/make-kit.sh; then on the GPU machine, with
# .devkit/ beside the checkout: ITERS=300 BACKENDS=gpujs:webgpu bash .devkit/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
KIT=.devkit
RUNTIME="${WEBGPU_RUNTIME:-$HOME/.cache/metatape/webgpu-runtime}"
rm -rf "$KIT" && mkdir -p "$KIT/cli" "$KIT/node_modules/webgpu/dist" "$KIT/debs" "$KIT/gl" "$KIT/omniglot-src"
# gpu.js and webgpu load native code or use createRequire: they travel as packages, not in the bundle. The
# bundle sits two folders below the root so that its `../../package.json` is the checkout's.
npx esbuild src/cli/main.ts --bundle --platform=node --format=esm --target=node20 --outfile="$KIT/cli/metatape.mjs" \
  --external:webgpu --external:gl --external:gpu.js --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
cp -r node_modules/gpu.js node_modules/acorn node_modules/gpu-mock.js "$KIT/node_modules/"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$KIT/node_modules/webgpu/"
gzip -9 -c node_modules/webgpu/dist/linux-x64.dawn.node >"$KIT/node_modules/webgpu/dist/linux-x64.dawn.node.gz"
cp "$RUNTIME"/debs/*.deb "$KIT/debs/"
# The Vulkan loader and glvnd of Debian 12, as the device README prescribes.
(cd "$KIT/gl" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
SRC="${OMNIGLOT_SRC:-../shared/datasets/omniglot}"
cp "$SRC"/*.npz "$SRC"/id_to_alphabet.csv "$SRC"/LICENSE-omniglot.txt "$KIT/omniglot-src/"
cp -r "$SRC/splits" "$KIT/omniglot-src/"
xz -T2 -6 -c "$(readlink -f "$(command -v node)")" >"$KIT/node.xz"
cp bench/device/run.sh "$KIT/run.sh"
du -sh "$KIT"

#!/usr/bin/env bash
# Builds .devkit/, the self-contained kit that bench/device/run.sh runs on a GPU machine with no Node, no npm and
# no network (this workplace's lent `device` machines; any bare x86-64 Linux box with an NVIDIA driver):
#   app/cli/metatape.mjs  the CLI bundled with esbuild; steps.mjs (bench/device/steps.ts) beside it
#   summarize.mjs         the closing table (bench/device/summarize.ts)
#   package.json          the CLI reads its version from ../../package.json of its bundle
#   node_modules/         gpu.js (its src only), acorn, gpu-mock.js, webgpu with dawn.node (xz): they load native
#                         code or use createRequire, so they travel as packages, outside the bundle
#   node.xz               this machine's node binary
#   debs/                 Debian 13's libc6, libstdc++6, libgcc-s1 (Dawn needs glibc >= 2.38; see .ci/install-gpu.sh)
#   gl/                   Debian 12's Vulkan loader and glvnd, as the device README prescribes
#   omniglot-src/         the two .npz files and id_to_alphabet.csv that `datasets prepare omniglot` reads
#   omniglot-5w1s-conv4.yaml, run.sh
# The kit travels with the working tree (`carry: [".devkit"]`), which may hold 64 MiB in all: this script prints
# the kit's size beside the tracked files' and fails if together they pass the limit.
# Usage: bash .ci/install-gpu.sh webgpu && bash bench/device/make-kit.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
KIT=.devkit
RUNTIME="${WEBGPU_RUNTIME:-$HOME/.cache/metatape/webgpu-runtime}"
SRC="${OMNIGLOT_SRC:-../shared/datasets/omniglot}"
LIMIT_MIB=64

if ! ls "$RUNTIME"/debs/libc6_*.deb >/dev/null 2>&1; then
  echo "make-kit: no Debian 13 libc under $RUNTIME/debs: run 'bash .ci/install-gpu.sh webgpu' first" >&2
  exit 1
fi
rm -rf "$KIT" && mkdir -p "$KIT/app/cli" "$KIT/node_modules/webgpu/dist" "$KIT/debs" "$KIT/gl" "$KIT/omniglot-src"

# ES modules bundled for node 20; the banner gives bundled CommonJS code a `require`.
bundle() {
  npx esbuild "$1" --bundle --platform=node --format=esm --target=node20 --outfile="$2" \
    --external:webgpu --external:gl --external:gpu.js --log-level=warning \
    --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
}
bundle src/cli/main.ts "$KIT/app/cli/metatape.mjs"
bundle bench/device/steps.ts "$KIT/app/cli/steps.mjs"
bundle bench/device/summarize.ts "$KIT/summarize.mjs"
cp package.json "$KIT/package.json"

# gpu.js's `main` is src/index.js; dist/ holds browser builds (3 MB) that node never loads.
mkdir -p "$KIT/node_modules/gpu.js"
cp -r node_modules/gpu.js/package.json node_modules/gpu.js/LICENSE node_modules/gpu.js/src "$KIT/node_modules/gpu.js/"
cp -r node_modules/acorn node_modules/gpu-mock.js "$KIT/node_modules/"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$KIT/node_modules/webgpu/"
xz -T2 -9 -c node_modules/webgpu/dist/linux-x64.dawn.node >"$KIT/node_modules/webgpu/dist/linux-x64.dawn.node.xz"

cp "$RUNTIME"/debs/*.deb "$KIT/debs/"
# Debian 12's (bookworm's) amd64 packages whatever this machine's architecture, through a private state dir.
apt_amd64=(-o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Dir::State::Lists=/tmp/metatape-amd64-lists
  -o APT::Sandbox::User=root)
if ! (cd "$KIT/gl" && apt-get "${apt_amd64[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1); then
  mkdir -p /tmp/metatape-amd64-lists/partial
  apt-get "${apt_amd64[@]}" update -qq
  (cd "$KIT/gl" && apt-get "${apt_amd64[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
fi

# Only what `datasets prepare omniglot` reads (the splits are computed, not read), and the dataset's licence.
cp "$SRC"/images_background.npz "$SRC"/images_evaluation.npz "$SRC"/id_to_alphabet.csv "$SRC"/LICENSE-omniglot.txt \
  "$KIT/omniglot-src/"
cp configs/omniglot-5w1s-conv4.yaml "$KIT/"
cp bench/device/run.sh "$KIT/run.sh"
# xz -9 of node takes minutes on two cores: cached by the binary's checksum.
node_bin="$(readlink -f "$(command -v node)")"
node_xz="$HOME/.cache/metatape/devkit-node-$(sha256sum "$node_bin" | cut -c1-16).xz"
if [ ! -f "$node_xz" ]; then
  mkdir -p "$(dirname "$node_xz")"
  xz -T2 -9 -c "$node_bin" >"$node_xz.tmp" && mv "$node_xz.tmp" "$node_xz"
fi
cp "$node_xz" "$KIT/node.xz"

kit_kib=$(du -sk "$KIT" | cut -f1)
tree_kib=$(git ls-files -z | du -ck --files0-from=- | tail -1 | cut -f1)
du -sh "$KIT"/* "$KIT"/node_modules/* | sort -h
echo "kit $((kit_kib / 1024)) MiB + tracked files $((tree_kib / 1024)) MiB = $(((kit_kib + tree_kib) / 1024)) MiB of the ${LIMIT_MIB} MiB that travel"
if ((kit_kib + tree_kib > LIMIT_MIB * 1024)); then
  echo "make-kit: over the ${LIMIT_MIB} MiB limit" >&2
  exit 1
fi

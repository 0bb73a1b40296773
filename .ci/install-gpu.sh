#!/usr/bin/env bash
# The opt-in for the gpu.js modes that need more than `npm ci` (which compiles nothing): installs what they
# need on Debian 12 (bookworm), from Debian's packages and the npm registry only; idempotent, so a second run
# takes seconds. Called by .ci/run; usable by hand (or as `npm run setup:gpu [-- MODE]`):
#   bash .ci/install-gpu.sh                  # everything
#   bash .ci/install-gpu.sh headlessgl       # or: webgpu
# webasm and gpu.js's cpu mode need nothing beyond `npm ci`.
#
# headlessgl: the optional `gl` package (WebGL 1 over ANGLE) has a native install script. `npm ci` leaves gl
#   out; this script installs it and builds the addon from source against Debian's X11 headers (about 15 min
#   on 2 cores the first time; the built addon is cached under $GL_CACHE, so later runs take seconds). It runs
#   under `xvfb-run` (Mesa llvmpipe behind Xvfb).
# webgpu: the `webgpu` package's prebuilt dawn.node needs glibc >= 2.38 (GLIBCXX_3.4.32); Debian 12 has 2.36.
#   The system libc is never touched: Debian 13's libc6, libstdc++6 and libgcc-s1 are `apt-get download`ed
#   (through a private sources list and state dir) and unpacked into $WEBGPU_RUNTIME, and a copy of node is
#   re-linked (patchelf: interpreter + rpath) against them. Dawn then finds Mesa's Vulkan software driver
#   (lavapipe, from bookworm's mesa-vulkan-drivers). Tests run webgpu with $WEBGPU_RUNTIME/bin first in PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

WEBGPU_RUNTIME="${WEBGPU_RUNTIME:-$HOME/.cache/metatape/webgpu-runtime}"
GL_CACHE="${GL_CACHE:-$HOME/.cache/metatape}"
TRIXIE_DEBS=(libc6 libstdc++6 libgcc-s1)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

log() { printf '[install-gpu] %s\n' "$*"; }

apt_updated=0
# Installs the Debian packages that are not installed yet (one apt-get update per run, only if needed).
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  if [ $apt_updated -eq 0 ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# npm serialises on a lock because several jobs may share one node_modules.
npm_locked() {
  if command -v flock >/dev/null; then flock /tmp/npm.lock npm "$@"; else npm "$@"; fi
}

install_headlessgl() {
  apt_install libxi-dev libxext-dev libx11-dev pkg-config xvfb xauth python3 make g++ libgl1-mesa-dri libglx-mesa0
  if node -e "require('gl')" 2>/dev/null; then
    log "gl: native addon already built"
  else
    # `npm ci` leaves gl out (npm 11 skips dependencies' install scripts unless approved, and gl is only an
    # optional dependency of gpu.js), so nobody compiles ANGLE without asking. Here we ask: the package's
    # JavaScript first (no scripts), then the addon from a cache keyed by gl's version and Node's ABI, or
    # built from source (~15 min on 2 cores; prebuild-install would try to download a binary from GitHub).
    local version abi cache
    version="$(node -p "require('./package-lock.json').packages['node_modules/gl'].version")"
    abi="$(node -p process.versions.modules)"
    cache="$GL_CACHE/gl-$version-abi$abi"
    if [ ! -f node_modules/gl/package.json ]; then
      log "gl: installing gl@$version (scripts off)"
      npm_locked install --no-save --no-audit --no-fund --ignore-scripts "gl@$version" >/dev/null
    fi
    if [ -f "$cache/Release/webgl.node" ]; then
      log "gl: native addon from the cache $cache"
      rm -rf node_modules/gl/build
      mkdir -p node_modules/gl/build
      cp -r "$cache/Release" node_modules/gl/build/
    else
      log "gl: building the native addon from source (log: /tmp/metatape-gl-build.log)"
      local nodedir=()
      local prefix
      prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
      if [ -f "$prefix/include/node/node.h" ]; then nodedir=(--nodedir "$prefix"); fi
      # node-gyp directly (gl's install script minus prebuild-install's download), on every core.
      (cd node_modules/gl && ../.bin/node-gyp rebuild -j max "${nodedir[@]}") >/tmp/metatape-gl-build.log 2>&1 || {
        tail -30 /tmp/metatape-gl-build.log
        log "gl: build failed (log: /tmp/metatape-gl-build.log)"
        return 1
      }
      rm -rf "$cache" && mkdir -p "$cache" && cp -r node_modules/gl/build/Release "$cache/"
    fi
  fi
  xvfb-run -a node -e "const c = require('gl')(1, 1); if (!c) process.exit(1)" \
    && log "headlessgl: ready (run under xvfb-run -a)"
}

install_webgpu() {
  apt_install mesa-vulkan-drivers libvulkan1 patchelf
  local stamp="$WEBGPU_RUNTIME/stamp"
  local want
  want="node=$(node -p process.version) debs=${TRIXIE_DEBS[*]}"
  if [ -x "$WEBGPU_RUNTIME/bin/node" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    log "webgpu: runtime already at $WEBGPU_RUNTIME"
  else
    log "webgpu: fetching Debian 13 ${TRIXIE_DEBS[*]} into $WEBGPU_RUNTIME"
    rm -rf "$WEBGPU_RUNTIME"
    local apt="$WEBGPU_RUNTIME/apt"
    mkdir -p "$apt/state/lists/partial" "$apt/cache/archives/partial" "$WEBGPU_RUNTIME/debs" "$WEBGPU_RUNTIME/root" "$WEBGPU_RUNTIME/bin"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$apt/sources.list"
    local opts=(
      -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
      -o "Dir::State=$apt/state" -o "Dir::Cache=$apt/cache" -o "Dir::State::status=/var/lib/dpkg/status"
      -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
    )
    apt-get "${opts[@]}" update -qq
    (cd "$WEBGPU_RUNTIME/debs" && apt-get "${opts[@]}" download "${TRIXIE_DEBS[@]}" >/dev/null)
    for deb in "$WEBGPU_RUNTIME"/debs/*.deb; do dpkg-deb -x "$deb" "$WEBGPU_RUNTIME/root"; done
    local lib="$WEBGPU_RUNTIME/root/usr/lib/x86_64-linux-gnu"
    cp "$(readlink -f "$(command -v node)")" "$WEBGPU_RUNTIME/bin/node"
    # The new loader and rpath apply to this node and to every child it forks (vitest workers use execPath).
    patchelf --set-interpreter "$lib/ld-linux-x86-64.so.2" --set-rpath "$lib" "$WEBGPU_RUNTIME/bin/node"
    echo "$want" >"$stamp"
  fi
  PATH="$WEBGPU_RUNTIME/bin:$PATH" node --input-type=module -e "
    const { create } = await import('webgpu');
    const a = await create([]).requestAdapter();
    if (!a) { console.error('no WebGPU adapter'); process.exit(1); }
    console.log('[install-gpu] webgpu: ready on ' + [a.info.vendor, a.info.description].join(' '));
    process.exit(0);" 2>&1 | grep -v -e XDG_RUNTIME_DIR -e DawnExperimentalSubgroupLimits
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(headlessgl webgpu); fi
for t in "${targets[@]}"; do
  case "$t" in
    headlessgl) install_headlessgl ;;
    webgpu) install_webgpu ;;
    webasm | cpu) log "$t: needs nothing" ;;
    *) log "unknown target '$t' (headlessgl | webgpu)"; exit 2 ;;
  esac
done

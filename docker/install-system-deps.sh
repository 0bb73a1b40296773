#!/usr/bin/env bash
# The system packages of metatape's Docker image, in one place: the Dockerfile runs this script, and CI runs
# it in --check mode (test/docker/dockerfile.test.ts) on its own Debian, so a package that is renamed or
# dropped fails a test here instead of an image build somewhere else. Debian 12/13 and Ubuntu 24.04; apt only.
#
#   bash docker/install-system-deps.sh [--check] [--clean] [build|runtime|all]...
#
# profiles (default: all)
#   build    what `npm ci` needs to compile the optional `gl` addon (gpu.js's headlessgl mode) from source:
#            node-gyp's python3/make/g++, pkg-config and the X11 headers (libxi-dev libxext-dev libx11-dev)
#   runtime  what the modes need at run time: the Vulkan loader and Mesa's lavapipe (WebGPU's software
#            fallback; on an NVIDIA host the container toolkit mounts the NVIDIA Vulkan driver, which needs
#            GLVND's libGLX/libEGL), Mesa GL + Xvfb/xauth (headlessgl), vulkaninfo for troubleshooting,
#            tini (PID 1 that forwards signals), ca-certificates
# options
#   --check  change nothing: print each package's candidate version and simulate the install
#            (`apt-get install -s`); exit 1 if a package does not resolve. Runs `apt-get update` first only
#            when apt has no package lists at all (a fresh machine) and we are root.
#   --release SUITE  with --check: resolve against Debian SUITE (e.g. trixie, the image's base) instead of
#            this machine's sources, through a private apt folder (lists cached under
#            ${XDG_CACHE_HOME:-~/.cache}/metatape/apt-SUITE, refreshed after a day) and an empty dpkg status,
#            so the simulation installs the whole closure as on a bare base image; the system is untouched
#   --clean  remove apt's package lists afterwards (smaller image layers)
#
# Idempotent: installed packages are skipped, so a second run does no network I/O.
set -euo pipefail

BUILD_PKGS=(python3 make g++ pkg-config libxi-dev libxext-dev libx11-dev)
RUNTIME_PKGS=(
  ca-certificates tini
  libvulkan1 mesa-vulkan-drivers vulkan-tools
  libglvnd0 libgl1 libglx0 libegl1 libgl1-mesa-dri libglx-mesa0
  libx11-6 libxext6 libxi6 xvfb xauth
)
# The `webgpu` package's prebuilt dawn.node needs glibc >= 2.38 (GLIBCXX_3.4.32).
MIN_GLIBC=2.38

check=0
clean=0
release=""
profiles=()
while [ $# -gt 0 ]; do
  arg="$1"
  shift
  case "$arg" in
    --check | --dry-run) check=1 ;;
    --release)
      release="${1:?--release needs a suite, e.g. trixie}"
      shift
      ;;
    --release=*) release="${arg#--release=}" ;;
    --clean) clean=1 ;;
    build | runtime | all) profiles+=("$arg") ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "install-system-deps: unknown argument '$arg' (see --help)" >&2
      exit 2
      ;;
  esac
done
if [ ${#profiles[@]} -eq 0 ]; then profiles=(all); fi

pkgs=()
for p in "${profiles[@]}"; do
  case "$p" in
    build) pkgs+=("${BUILD_PKGS[@]}") ;;
    runtime) pkgs+=("${RUNTIME_PKGS[@]}") ;;
    all) pkgs+=("${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}") ;;
  esac
done
# Deduplicate, keeping the order.
declare -A seen=()
unique=()
for p in "${pkgs[@]}"; do
  if [ -z "${seen[$p]:-}" ]; then
    seen[$p]=1
    unique+=("$p")
  fi
done
pkgs=("${unique[@]}")

log() { printf '[install-system-deps] %s\n' "$*"; }

if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
  log "apt-get/dpkg-query not found: this script supports Debian and Ubuntu only"
  exit 3
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

os="$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown}")" || os=unknown
glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')" || glibc=""
glibc_ok=0
if [ -n "$glibc" ] && [ "$(printf '%s\n%s\n' "$MIN_GLIBC" "$glibc" | sort -V | head -1)" = "$MIN_GLIBC" ]; then
  glibc_ok=1
fi
log "system: $os, glibc ${glibc:-unknown}; profiles: ${profiles[*]}"

have_lists() { compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; }

APT_CACHE=(apt-cache)
APT_GET=(apt-get)
if [ -n "$release" ]; then
  if [ $check -eq 0 ]; then
    log "--release only goes with --check (an install always uses the system's own sources)"
    exit 2
  fi
  apt_dir="${XDG_CACHE_HOME:-$HOME/.cache}/metatape/apt-$release"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  echo "deb [signed-by=$keyring] http://deb.debian.org/debian $release main" >"$apt_dir/sources.list"
  : >"$apt_dir/status"
  opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir" -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache=" -o "Dir::State::status=$apt_dir/status" -o "Debug::NoLocking=1"
    -o "APT::Sandbox::User=$(id -un)"
  )
  APT_CACHE=(apt-cache "${opts[@]}")
  APT_GET=(apt-get "${opts[@]}")
  if [ -z "$(find "$apt_dir/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null)" ]; then
    log "fetching Debian $release package lists into $apt_dir"
    "${APT_GET[@]}" update -qq
  fi
  os="Debian $release (package lists only)"
  glibc="$("${APT_CACHE[@]}" policy libc6 | awk '/Candidate:/ {print $2}' | sed 's/-.*//')"
  glibc_ok=0
  if [ -n "$glibc" ] && [ "$(printf '%s\n%s\n' "$MIN_GLIBC" "$glibc" | sort -V | head -1)" = "$MIN_GLIBC" ]; then
    glibc_ok=1
  fi
  log "checking against $os: libc6 $glibc"
fi

if [ $check -eq 1 ]; then
  if [ -z "$release" ] && ! have_lists; then
    if [ "$(id -u)" -eq 0 ]; then
      log "no apt package lists yet: apt-get update"
      apt-get update -qq
    else
      log "no apt package lists and not root: run 'apt-get update' first"
      exit 3
    fi
  fi
  missing=()
  # One apt-cache call for all packages (a call per package costs half a second each).
  declare -A cand=()
  while read -r name version; do cand[$name]="$version"; done < <(
    "${APT_CACHE[@]}" policy "${pkgs[@]}" 2>/dev/null | awk '/^[^ ].*:$/ {sub(":$", ""); p = $0} /Candidate:/ {print p, $2}'
  )
  for p in "${pkgs[@]}"; do
    c="${cand[$p]:-}"
    if [ -z "$c" ] || [ "$c" = "(none)" ]; then
      missing+=("$p")
      printf '  %-22s MISSING (no installation candidate)\n' "$p"
    else
      printf '  %-22s %s\n' "$p" "$c"
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "FAIL: ${#missing[@]} package(s) do not resolve on $os: ${missing[*]}"
    exit 1
  fi
  sim="$(mktemp)"
  trap 'rm -f "$sim"' EXIT
  if ! "${APT_GET[@]}" install -s -qq --no-install-recommends "${pkgs[@]}" >"$sim" 2>&1; then
    tail -20 "$sim"
    log "FAIL: apt-get install -s could not resolve the dependencies"
    exit 1
  fi
  log "would install $(grep -c '^Inst ' "$sim" || true) package(s) (dependencies included)"
  if [ $glibc_ok -eq 0 ]; then
    log "note: glibc ${glibc:-unknown} < $MIN_GLIBC: the webgpu package's dawn.node will not load here" \
      "(the image's base must be Debian 13 or Ubuntu 24.04)"
  fi
  log "OK: ${#pkgs[@]} packages resolve"
  exit 0
fi

todo=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || todo+=("$p")
done
if [ ${#todo[@]} -eq 0 ]; then
  log "all ${#pkgs[@]} packages already installed"
else
  log "apt-get install ${todo[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${todo[@]}" >/dev/null
fi
if [ $clean -eq 1 ]; then
  $SUDO apt-get clean
  $SUDO rm -rf /var/lib/apt/lists/*
fi
if [ $glibc_ok -eq 0 ]; then
  log "warning: glibc ${glibc:-unknown} < $MIN_GLIBC: gpu.js's webgpu mode (dawn.node) cannot load on this system"
fi
log "done"

#!/usr/bin/env bash
# The packed package as a user gets it: `npm pack`, then `npm install` of the tarball in an empty folder
# (nothing may compile), `import { ... } from 'metatape'`, `npx metatape --help`, and `npx metatape examples`.
# Prints the wall time of each step. Usage: bash .ci/pack-smoke.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(ms)
took() {
  local d=$(($(ms) - t0))
  printf '[pack] %s: %d.%d s\n' "$1" $((d / 1000)) $((d % 1000 / 100))
  t0=$(ms)
}

npm run build --silent
tarball="$(npm pack --silent --pack-destination "$work" | tail -1)"
took "npm run build && npm pack ($tarball, $(du -k "$work/$tarball" | cut -f1) KiB)"
mkdir -p "$work/app"
cd "$work/app"
npm init -y >/dev/null
npm pkg set type=module
npm install --no-audit --no-fund "../$tarball" 2>&1 | tail -5
took 'npm install of the tarball'
if [ -e node_modules/gl/build/Release/webgl.node ]; then
  echo "[pack] FAILED: installing the package compiled the gl addon" >&2
  exit 1
fi
cat >smoke.mjs <<'JS'
import { GradientTape, pow, variable } from 'metatape';
const x = variable(3);
const tape = new GradientTape();
const y = tape.record(() => pow(x, 3));
const dy = tape.gradient(y, x).item();
if (dy !== 27) throw new Error(`d(x^3)/dx at 3 is ${dy}, expected 27`);
console.log(`[pack] import { GradientTape, pow, variable } from 'metatape': d(x^3)/dx at 3 = ${dy}`);
JS
node smoke.mjs
took 'import'
npx --no-install metatape --help | head -5
took 'npx metatape --help'
npx --no-install metatape examples
took 'npx metatape examples'

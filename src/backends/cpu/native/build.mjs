// Builds the optional native addon (addon.c, blas.c, elementwise.c, parallel.c, schedule.c) into build/native/metatape_native.node with the system C
// compiler and Node's own Node-API headers: `npm run setup:native`. Nothing is downloaded. Where there is
// no compiler or no headers it says what to install and exits 1; metatape keeps its WebAssembly kernels.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../../..');
const out = join(root, 'build', 'native', 'metatape_native.node');

// Official Node builds (nodejs.org tarballs, nvm, the node Docker images) ship their headers in
// <prefix>/include/node; Debian's nodejs package puts them in /usr/include/node.
const headerDirs = [
  join(dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/include/nodejs/src',
];
const headers = headerDirs.find((d) => existsSync(join(d, 'node_api.h')));
if (headers === undefined) {
  console.error(
    `setup:native: node_api.h not found in ${headerDirs.join(', ')}. Install Node from nodejs.org ` +
      `(its tarball carries the headers) or Debian's libnode-dev; metatape keeps its WebAssembly kernels.`,
  );
  process.exit(1);
}
const cc = process.env.CC ?? 'cc';
mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
// -std=c11 keeps a * b + c two roundings (no FMA contraction), as JS rounds it. -fno-math-errno lets sqrt
// loops vectorize: with errno, GCC tests every square root for a negative argument and calls libm's sqrtf;
// the square roots themselves are IEEE's either way, and nothing here reads errno.
const args = [
  '-O3',
  '-std=c11',
  '-fno-math-errno',
  '--param=vect-max-version-for-alias-checks=16',
  '-fPIC',
  '-shared',
  '-Wall',
  '-Wextra',
  '-Werror',
  `-I${headers}`,
];
// macOS resolves Node-API symbols from the host process only when told to.
if (process.platform === 'darwin') args.push('-undefined', 'dynamic_lookup');
const sources = ['addon.c', 'blas.c', 'elementwise.c', 'parallel.c', 'schedule.c'].map((f) => join(here, f));
args.push('-o', tmp, ...sources, '-ldl', '-lpthread', '-lm');
try {
  execFileSync(cc, args, { stdio: 'inherit' });
} catch (err) {
  console.error(
    `setup:native: \`${cc} ${args.join(' ')}\` failed (${err.message}). On Debian: ` +
      `sudo apt-get install build-essential libopenblas0-serial; metatape keeps its WebAssembly kernels.`,
  );
  process.exit(1);
}
// Renamed into place so that a process loading the addon never sees a half-written file.
renameSync(tmp, out);

// Load it in a fresh process and say which BLAS it found: a build without a BLAS on the machine is
// useless, and the user should hear so now, not at the first matmul.
const probe = `const m = require(${JSON.stringify(out)}); console.log(JSON.stringify(m.blasInfo()));`;
const info = JSON.parse(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' }));
if (info.path === undefined) {
  // Still worth keeping: the elementwise kernels need no BLAS.
  console.warn(
    `setup:native: built ${out}, but no BLAS library loaded (${info.error}). On Debian: ` +
      'sudo apt-get install libopenblas0-serial; or set METATAPE_BLAS to a libopenblas path. The ' +
      'elementwise kernels run native without it; matmul stays on WebAssembly.',
  );
} else console.log(`setup:native: built ${out}; matmul runs on ${info.path} (${info.config})`);

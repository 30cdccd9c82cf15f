// Bundles the Node sidecar into one file inside the Python package, so a
// pip-installed jupyterlab-hpc needs no node_modules at run time.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/sidecar/main.ts'],
  outfile: 'jupyterlab_hpc/sidecar/sidecar.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  minify: false,
  legalComments: 'linked',
  // The shell programs (src/sidecar/**/*.sh) are kept as their text.
  loader: { '.sh': 'text' },
  // Optional native speed-ups of ws and ssh2, which fall back to pure JS (and
  // Node's own crypto) without them: a wheel must not carry binaries built
  // for one platform.
  external: ['bufferutil', 'utf-8-validate', '*.node', 'cpu-features'],
  logLevel: 'warning'
});

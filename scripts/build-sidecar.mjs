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
  // Optional native speed-ups of ws; the pure-JS paths are used without them.
  external: ['bufferutil', 'utf-8-validate'],
  logLevel: 'warning'
});

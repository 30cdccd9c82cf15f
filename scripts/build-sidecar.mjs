// Bundles the Node sidecar into jupyterlab_hpc/sidecar inside the Python
// package, so a pip-installed jupyterlab-hpc needs no node_modules at run
// time. CommonJS files: sidecar.js starts and answers the health check;
// services.js (ssh2, the cluster, conda and task modules: nine tenths of the
// code) is required on the first request that needs it, ws.js on the first
// WebSocket, so node neither parses nor keeps them at start-up. Not ES
// modules with code splitting: on the node that ships in the wheel (24) an
// ES module entry alone costs ~12 MiB and twice the start-up CPU of a
// CommonJS one (measured).
import { rmSync } from 'node:fs';

import { build } from 'esbuild';

const outdir = 'jupyterlab_hpc/sidecar';
rmSync(outdir, { recursive: true, force: true });

/** The `import()`s that load another of the files: [importer, specifier, file]. */
const LOADED_LATER = [
  ['src/sidecar/main.ts', './services', './services.js'],
  ['src/sidecar/api/server.ts', 'ws', './ws.js']
];
const filesApart = {
  name: 'files-apart',
  setup(b) {
    b.onResolve({ filter: /^(\.\/services|ws)$/ }, args => {
      const apart = LOADED_LATER.find(
        ([importer, specifier]) =>
          args.kind === 'dynamic-import' &&
          args.importer.endsWith(importer) &&
          args.path === specifier
      );
      return apart ? { path: apart[2], external: true } : undefined;
    });
  }
};

await build({
  entryPoints: {
    sidecar: 'src/sidecar/main.ts',
    services: 'src/sidecar/services.ts',
    ws: 'ws'
  },
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // import() of a CommonJS file would start node's ES module loader.
  supported: { 'dynamic-import': false },
  plugins: [filesApart],
  sourcemap: true,
  minify: false,
  legalComments: 'linked',
  // The shell and Python programs (src/sidecar/**/*.sh, *.py) that run on
  // a cluster are kept as their text, as is the cluster kernels' logo.
  loader: { '.sh': 'text', '.py': 'text', '.svg': 'text' },
  // Optional native speed-ups of ws and ssh2, which fall back to pure JS (and
  // Node's own crypto) without them: a wheel must not carry binaries built
  // for one platform.
  external: ['bufferutil', 'utf-8-validate', '*.node', 'cpu-features'],
  logLevel: 'warning'
});

// What the browser downloads for the extension: the prebuilt labextension's
// static JavaScript, next to a comparable small extension's.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

import { BenchError } from '../lib/context.mjs';

export const name = 'frontend';
export const description =
  "labextension static JS size, raw and gzipped, vs jupyter-server-proxy's labextension";

const OURS = ['jupyterlab_hpc', 'labextension', 'static'];
const REFERENCE = {
  label: 'jupyter-server-proxy labext',
  dir: [
    '.venv',
    'share',
    'jupyter',
    'labextensions',
    '@jupyterhub',
    'jupyter-server-proxy',
    'static'
  ],
  id: 'jupyter_server_proxy'
};

/** Every *.js file under dir, recursively. */
function jsFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      out.push(...jsFiles(p));
    } else if (entry.name.endsWith('.js')) {
      out.push(p);
    }
  }
  return out.sort();
}

/**
 * Raw and gzipped size in KiB. Each file is gzipped on its own, as a server
 * would send it; zlib's default level.
 */
function measure(dir) {
  const files = jsFiles(dir);
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const data = readFileSync(f);
    raw += statSync(f).size;
    gz += gzipSync(data).length;
  }
  return { files: files.length, kib: raw / 1024, gzipKib: gz / 1024 };
}

export async function run(ctx) {
  const oursDir = join(ctx.root, ...OURS);
  if (!existsSync(oursDir) || jsFiles(oursDir).length === 0) {
    throw new BenchError(
      `${relative(process.cwd(), oursDir)} has no built JavaScript: run \`bash scripts/setup.sh\` first (it builds the labextension)`
    );
  }
  const ours = measure(oursDir);
  const refDir = join(ctx.root, ...REFERENCE.dir);
  const ref = existsSync(refDir) ? measure(refDir) : null;
  if (!ref) {
    ctx.log(`reference ${relative(ctx.root, refDir)} not found: no ratio`);
  }
  const maps = readdirSync(oursDir).some(f => f.endsWith('.js.map'));
  const build = maps
    ? 'development build (source maps present): build:prod for the real figure'
    : 'production build';
  const rows = [
    {
      id: 'frontend.bundle_kb',
      unit: 'KiB',
      value: ours.kib,
      n: 1,
      note:
        `${ours.files} .js files in ${OURS.join('/')}, ${build}` +
        (ref ? `; reference: ${ref.files} files` : '')
    },
    {
      id: 'frontend.bundle_gzip_kb',
      unit: 'KiB',
      value: ours.gzipKib,
      n: 1,
      note: 'sum of each file gzipped alone (zlib default level)'
    }
  ];
  if (ref) {
    rows[0].baseline = {
      label: REFERENCE.label,
      id: `frontend.bundle_kb.${REFERENCE.id}`,
      value: ref.kib
    };
    rows[1].baseline = {
      label: REFERENCE.label,
      id: `frontend.bundle_gzip_kb.${REFERENCE.id}`,
      value: ref.gzipKib
    };
  }
  return rows;
}

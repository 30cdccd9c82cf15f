// What the runner hands to each section's run(ctx).
import { spawn as spawnChild } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { collectStderr, stopProcess } from './process.mjs';
import { productNode, systemNode } from './runtime.mjs';

/** An expected failure (missing build, missing tool): printed without a stack. */
export class BenchError extends Error {}

export function createContext({ root, repeat }) {
  const children = new Set();
  const dirs = [];
  let product;
  let system;
  let section = '';

  const ctx = {
    /** The repository root. */
    root,
    /** --repeat N, or undefined. Prefer ctx.reps(default). */
    repeat,
    /** Repetitions to run: --repeat if given, else the section's default. */
    reps: def => repeat ?? def,
    /** Progress line on stderr (stdout carries the table). */
    log: msg => process.stderr.write(`  [${section}] ${msg}\n`),
    /** { path, version, note? } of the node the product starts the sidecar with. */
    productNode: () => (product ??= productNode(root)),
    /** { path, version } of another node on this machine, or null. */
    systemNode: () =>
      system === undefined ? (system = systemNode(ctx.productNode())) : system,
    /** A fresh private (0700) directory, removed when the run ends. */
    tmpdir: (prefix = 'jlhpc-bench-') => {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    /**
     * child_process.spawn, tracked so the runner stops it if the section
     * fails or the run is interrupted. stdout ignored, stderr kept (its tail
     * ends up in error messages). `label` names it in those messages.
     */
    spawn: (cmd, args, { label, ...options } = {}) => {
      const child = spawnChild(cmd, args, {
        stdio: ['ignore', 'ignore', 'pipe'],
        ...options
      });
      child.benchLabel = label;
      collectStderr(child);
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    /** Stop a child started with ctx.spawn; resolves when it has exited. */
    stop: child => stopProcess(child),

    // Used by the runner only.
    _enter: name => {
      section = name;
    },
    _cleanup: async () => {
      await Promise.all([...children].map(c => stopProcess(c, 1000)));
      for (const d of dirs.splice(0)) {
        rmSync(d, { recursive: true, force: true });
      }
    },
    _killNow: () => {
      for (const c of children) {
        c.kill('SIGKILL');
      }
      for (const d of dirs.splice(0)) {
        rmSync(d, { recursive: true, force: true });
      }
    }
  };
  return ctx;
}

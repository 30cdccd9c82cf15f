/**
 * Looking for secrets: their exact value and simple encodings in text,
 * files written since a moment, `ps` snapshots and processes' environments
 * sampled while the product works. Used by tests/reliability/secrets.test.ts.
 */
import { execFile } from 'child_process';
import {
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  type Stats
} from 'fs';
import { join } from 'path';
import { promisify } from 'util';

const execFileAsync = promisify(execFile);

export interface ISecret {
  /** What it is, e.g. "remote JupyterLab token". */
  kind: string;
  value: string;
}

interface IEncoded {
  how: string;
  text: string;
}

/** The value, and the encodings a careless writer would leave it in. */
export function encodings(value: string): IEncoded[] {
  const raw = Buffer.from(value, 'utf8');
  const all: IEncoded[] = [
    { how: 'value', text: value },
    { how: 'base64', text: raw.toString('base64') },
    {
      how: 'base64 (unpadded)',
      text: raw.toString('base64').replace(/=+$/, '')
    },
    { how: 'base64url', text: raw.toString('base64url') },
    { how: 'hex', text: raw.toString('hex') },
    { how: 'url-encoded', text: encodeURIComponent(value) }
  ];
  const seen = new Set<string>();
  return all.filter(e => {
    if (seen.has(e.text)) {
      return false;
    }
    seen.add(e.text);
    return true;
  });
}

const escapeRe = (s: string): string =>
  s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A matcher per secret and encoding. An all-digit value (a 2FA code) only
 * counts standing alone, not inside a longer number (timestamps, pids).
 */
function matchers(
  secrets: ISecret[]
): { secret: ISecret; how: string; re: RegExp }[] {
  return secrets.flatMap(secret =>
    encodings(secret.value).map(e => ({
      secret,
      how: e.how,
      re: /^\d+$/.test(e.text)
        ? new RegExp(`(?<!\\d)${escapeRe(e.text)}(?!\\d)`)
        : new RegExp(escapeRe(e.text))
    }))
  );
}

export interface IFinding {
  kind: string;
  how: string;
}

/** Every secret (and how it was encoded) found in `text`. */
export function findSecrets(text: string, secrets: ISecret[]): IFinding[] {
  return matchers(secrets)
    .filter(m => m.re.test(text))
    .map(m => ({ kind: m.secret.kind, how: m.how }));
}

export interface IFoundFile {
  path: string;
  stat: Stats;
  findings: IFinding[];
}

export interface IWalkOptions {
  /** Only files changed at or after this time (ms since the epoch). */
  since?: number;
  /** Files larger than this are skipped. */
  maxBytes?: number;
  /** Directory names not entered (e.g. a conda tree). */
  skipDirs?: string[];
}

/** Regular files under `roots` (symlinks not followed), with what they hold. */
export function scanFiles(
  roots: string[],
  secrets: ISecret[],
  options: IWalkOptions = {}
): { files: number; found: IFoundFile[] } {
  const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  const skip = new Set(options.skipDirs ?? []);
  const found: IFoundFile[] = [];
  let files = 0;
  const visit = (path: string, depth: number): void => {
    let stat: Stats;
    try {
      stat = lstatSync(path);
    } catch {
      return;
    }
    if (stat.isDirectory()) {
      if (depth > 12) {
        return;
      }
      let names: string[];
      try {
        names = readdirSync(path);
      } catch {
        return;
      }
      for (const name of names) {
        if (!skip.has(name)) {
          visit(join(path, name), depth + 1);
        }
      }
      return;
    }
    if (!stat.isFile() || stat.size > maxBytes) {
      return;
    }
    if (options.since !== undefined && stat.mtimeMs < options.since) {
      return;
    }
    let text: string;
    try {
      text = readFileSync(path, 'latin1');
    } catch {
      return;
    }
    files++;
    const findings = findSecrets(text, secrets);
    if (findings.length) {
      found.push({ path, stat, findings });
    }
  };
  for (const root of roots) {
    visit(root, 0);
  }
  return { files, found };
}

/** The text appended to each file since `offsets` were taken. */
export function logOffsets(files: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of files) {
    try {
      out.set(f, lstatSync(f).size);
    } catch {
      out.set(f, 0);
    }
  }
  return out;
}

export function appendedSince(file: string, offset: number): string {
  try {
    const all = readFileSync(file);
    return all.subarray(Math.min(offset, all.length)).toString('latin1');
  } catch {
    return '';
  }
}

export interface IEnvironSample {
  pid: number;
  ppid: number;
  user: string;
  args: string;
  environ: string;
}

/**
 * `ps -eww -o user,pid,args` and every process's /proc/<pid>/environ,
 * sampled every `intervalMs` until stopped. Distinct lines and environments
 * are kept (per pid), so a long run stays small.
 */
export class ProcessSampler {
  /** Distinct `ps` lines seen. */
  readonly psLines = new Set<string>();
  /** Distinct (pid, environment) pairs seen. */
  readonly environs = new Map<string, IEnvironSample>();
  /** pid → parent pid, of every process whose environment was read. */
  readonly parents = new Map<number, number>();
  psSnapshots = 0;
  environSnapshots = 0;

  /** `pid` is `ancestor` or was started, at any depth, by it. */
  descends(pid: number, ancestor: number): boolean {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (p === ancestor) {
        return true;
      }
      p = this.parents.get(p) ?? 0;
    }
    return false;
  }

  start(intervalMs = 250): void {
    this._running = true;
    this._loop = (async () => {
      while (this._running) {
        await this.sampleOnce();
        await new Promise(r => setTimeout(r, intervalMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this._running = false;
    await this._loop;
  }

  async sampleOnce(): Promise<void> {
    try {
      const { stdout } = await execFileAsync(
        'ps',
        ['-eww', '-o', 'user:20,pid,args'],
        { maxBuffer: 64 * 1024 * 1024 }
      );
      for (const line of stdout.split('\n').slice(1)) {
        if (line.trim()) {
          this.psLines.add(line);
        }
      }
      this.psSnapshots++;
    } catch {
      // ps itself failed this once: the next round counts
    }
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) {
        continue;
      }
      try {
        const environ = readFileSync(`/proc/${name}/environ`, 'latin1');
        const key = `${name}\0${environ}`;
        if (!this.environs.has(key)) {
          const args = readFileSync(`/proc/${name}/cmdline`, 'latin1')
            .split('\0')
            .join(' ')
            .trim();
          const status = readFileSync(`/proc/${name}/status`, 'utf8');
          const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
          const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
          this.parents.set(Number(name), ppid);
          this.environs.set(key, {
            pid: Number(name),
            ppid,
            user: uid ?? '?',
            args: args || readlinkSafe(`/proc/${name}/exe`),
            environ
          });
        }
      } catch {
        // gone meanwhile
      }
    }
    this.environSnapshots++;
  }

  private _running = false;
  private _loop: Promise<void> = Promise.resolve();
}

function readlinkSafe(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '?';
  }
}

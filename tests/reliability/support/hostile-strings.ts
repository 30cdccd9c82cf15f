/**
 * Hostile strings for the hostile-input suite, generated from a seed so a
 * failure can be replayed (JLHPC_FUZZ_SEED) and the long run can try more
 * (JLHPC_FUZZ_INPUTS multiplies every surface's count).
 *
 * Every payload that would run a command, were it pasted into a shell or
 * read as an option, runs a canary: `touch <here>/<id> <cluster>/<id>`,
 * where `here` belongs to the user running the lab on this computer and
 * `cluster` to the cluster user, and `id` names the input. Any file named
 * `c<tag>s<surface>n<input>` found afterwards is an injection, and its name
 * says which input of which surface made it.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

/** The seed of CI runs; JLHPC_FUZZ_SEED overrides it. */
export const DEFAULT_SEED = 0x13f00d;

export function fuzzSeed(): number {
  const env = process.env.JLHPC_FUZZ_SEED;
  return env !== undefined && env !== '' ? Number(env) >>> 0 : DEFAULT_SEED;
}

/**
 * How many inputs a surface tries: its CI count, times JLHPC_FUZZ_INPUTS /
 * 1000 when that asks for more in the long run (JLHPC_FUZZ_INPUTS is the
 * total wanted across surfaces; CI's total is about 1,000).
 */
export function fuzzCount(ciCount: number): number {
  const wanted = Number(process.env.JLHPC_FUZZ_INPUTS ?? '');
  if (!Number.isFinite(wanted) || wanted <= 1000) {
    return ciCount;
  }
  return Math.ceil((ciCount * wanted) / 1000);
}

/** mulberry32: small, fast, and the same sequence everywhere. */
export class Rng {
  constructor(seed: number) {
    this._state = seed >>> 0;
  }

  next(): number {
    let t = (this._state = (this._state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  private _state: number;
}

/** Where canary files would appear: on this computer and on the cluster. */
export interface ICanaryDirs {
  /** Short random tag in every canary file name of this run. */
  tag: string;
  /** Owned by the user running the lab (this process), 0700. */
  here: string;
  /** Owned by the cluster user (the demo cluster runs on this machine). */
  cluster: string;
  /** Every file whose name marks it as a canary of this run, anywhere under `roots`. */
  found(roots: readonly string[]): string[];
  remove(): void;
}

/**
 * Make both canary directories. The demo cluster is this machine, so the
 * cluster one is made here and handed to `clusterUser`.
 */
export function makeCanaryDirs(clusterUser: string): ICanaryDirs {
  const tag = randomBytes(4).toString('hex');
  const here = mkdtempSync(join(tmpdir(), `jlhpc-canary-${tag}-here-`));
  const cluster = mkdtempSync(join(tmpdir(), `jlhpc-canary-${tag}-cluster-`));
  execFileSync('chown', [`${clusterUser}:`, cluster]);
  const pattern = `c${tag}s*`;
  return {
    tag,
    here,
    cluster,
    found: roots => {
      const hits = new Set<string>();
      for (const dir of [here, cluster]) {
        for (const name of readdirSync(dir)) {
          hits.add(join(dir, name));
        }
      }
      const existing = roots.filter(r => existsSync(r));
      if (existing.length > 0) {
        // find exits 1 on unreadable directories; its output still counts.
        let out = '';
        try {
          out = execFileSync(
            'find',
            [
              ...existing,
              '-xdev',
              '-maxdepth',
              '4',
              '-name',
              pattern,
              '-print'
            ],
            { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }
          );
        } catch (err) {
          out = String((err as { stdout?: string }).stdout ?? '');
        }
        out
          .split('\n')
          .filter(l => l !== '')
          .forEach(l => hits.add(l));
      }
      return [...hits].sort();
    },
    remove: () => {
      rmSync(here, { recursive: true, force: true });
      rmSync(cluster, { recursive: true, force: true });
    }
  };
}

/** What kind of hostility an input carries. */
export type HostileFamily =
  | 'shell'
  | 'newline'
  | 'nul'
  | 'unicode'
  | 'long'
  | 'option'
  | 'traversal'
  | 'glob'
  | 'mixture';

export interface IHostileInput {
  /** The canary file name this input would create: `c<tag>s<surface>n<index>`. */
  id: string;
  family: HostileFamily;
  value: string;
}

const FAMILIES: HostileFamily[] = [
  'shell',
  'shell',
  'newline',
  'nul',
  'unicode',
  'long',
  'option',
  'option',
  'traversal',
  'glob',
  'mixture',
  'mixture'
];

/** Unicode that is easy to mishandle. */
const UNICODE = [
  '\u202e', // right-to-left override
  '\u200f', // right-to-left mark
  '\u200b', // zero-width space
  'e\u0301\u0301\u0301', // stacked combining marks
  '\u{1f600}\u{1f4a5}', // emoji (astral plane: surrogate pairs)
  '\ufeff', // BOM
  '\uff1b', // fullwidth semicolon
  '\u2028', // line separator
  '\u0085', // next line
  '\ud800', // lone high surrogate: not encodable as UTF-8
  '\udfff', // lone low surrogate
  '\u00c0\u00af', // what an overlong "/" decodes to in Latin-1
  '\u0000\u00ad', // NUL then soft hyphen
  'ﾟ\u3000', // halfwidth katakana, ideographic space
  'İı' // case mapping changes length
];

const GLOBS = ['*', '?', '[a-z]*', '{a,b}', '~', '~root', '**/*', '.*'];

/**
 * The generator. `next(base)` may put the payload after `base` (a value the
 * field would accept, such as an absolute path), so checks that look only
 * at the start are tested too.
 */
export class HostileStrings {
  constructor(
    private readonly _rng: Rng,
    private readonly _canary: Pick<ICanaryDirs, 'tag' | 'here' | 'cluster'>,
    /** Numbers the surface in canary names. */
    readonly surface: number
  ) {}

  /** The start of every canary name of this generator's inputs. */
  get prefix(): string {
    return `c${this._canary.tag}s${this.surface}n`;
  }

  get rng(): Rng {
    return this._rng;
  }

  next(base = ''): IHostileInput {
    const id = `${this.prefix}${this._count++}`;
    const family = this._rng.pick(FAMILIES);
    let value = this._payload(family, id);
    if (base !== '' && this._rng.chance(0.5)) {
      value = base + value;
    }
    return { id, family, value };
  }

  /**
   * Payloads that do run their canary when pasted unquoted after a word in
   * a bash command line: the suite's proof that its canaries and search
   * would see an injection (none runs in the background, which could touch
   * its file after the check).
   */
  controls(): IHostileInput[] {
    return [
      (cmd: string) => `;${cmd};`,
      (cmd: string) => `$(${cmd})`,
      (cmd: string) => `\`${cmd}\``,
      (cmd: string) => `\n${cmd}`,
      (cmd: string) => `|${cmd}`
    ].map(wrap => {
      const id = `${this.prefix}${this._count++}`;
      const { here, cluster } = this._canary;
      return {
        id,
        family: 'shell',
        value: wrap(`touch ${here}/${id} ${cluster}/${id}`)
      };
    });
  }

  /** Canary commands, in the spellings each context lets through. */
  private _command(id: string): string {
    const { here, cluster } = this._canary;
    const a = `${here}/${id}`;
    const b = `${cluster}/${id}`;
    return this._rng.pick([
      `touch ${a} ${b}`,
      `touch\t${a}\t${b}`,
      `touch\${IFS}${a}\${IFS}${b}`,
      `{touch,${a},${b}}`,
      `/usr/bin/touch ${a} ${b}`,
      `>${a} >${b}`
    ]);
  }

  private _payload(family: HostileFamily, id: string): string {
    const r = this._rng;
    const cmd = this._command(id);
    switch (family) {
      case 'shell':
        return r.pick([
          `;${cmd};`,
          `|${cmd}`,
          `&${cmd}&`,
          `&&${cmd}`,
          `||${cmd}`,
          `$(${cmd})`,
          `\`${cmd}\``,
          `'$(${cmd})'`,
          `"$(${cmd})"`,
          `x';${cmd};'`,
          `x";${cmd};"`,
          `\\';${cmd};#`,
          `$(${cmd})$IFS`,
          `<(${cmd})`,
          `>(${cmd})`,
          `$((0))$(${cmd})`,
          `\${x:-$(${cmd})}`,
          `!$(${cmd})`,
          `=$(${cmd})`,
          `%h;${cmd}`,
          `%%$(${cmd})`
        ]);
      case 'newline':
        return r.pick([
          `x\n${cmd}\n`,
          `x\r\n${cmd}\r\n`,
          `x\r${cmd}`,
          `\n${cmd}`,
          `x\n#SBATCH --wrap=${cmd}\n`,
          `x\nProxyCommand ${cmd}\n`,
          `x\u2028${cmd}`
        ]);
      case 'nul':
        return r.pick([`x\0;${cmd}`, `\0$(${cmd})`, `x\0`, `x\0\n${cmd}`]);
      case 'unicode': {
        const u = r.pick(UNICODE);
        return r.pick([
          `${u}$(${cmd})`,
          `x${u};${cmd}`,
          `${u}${u}`,
          `na${u}me`,
          `${u}\n${cmd}`
        ]);
      }
      case 'long': {
        const size = 64 * 1024 + r.int(4096);
        const fill = r.pick(['A', 'é', '\u{1f600}', ';', '$', "'", '/']);
        const body = fill.repeat(Math.ceil(size / fill.length));
        const at = r.int(body.length);
        return `${body.slice(0, at)}$(${cmd})${body.slice(at)}`;
      }
      case 'option':
        return r.pick([
          `-oProxyCommand=${cmd}`,
          `-oProxyCommand=sh -c '${cmd}'`,
          `-oLocalCommand=${cmd}`,
          `-oPermitLocalCommand=yes`,
          `--wrap=${cmd}`,
          `--output=${this._canary.here}/${id}`,
          `--chdir=/`,
          `--uid=0`,
          `-o`,
          `--`,
          `-`,
          `-e ${cmd}`,
          `-c${cmd}`,
          `--help`,
          `-J-oProxyCommand=${cmd}`
        ]);
      case 'traversal':
        return r.pick([
          '../../../../etc/passwd',
          '/etc/passwd',
          '..',
          '.',
          '../',
          '..%2f..%2fetc',
          '%2e%2e/%2e%2e',
          `/tmp/../${this._canary.here.slice(1)}/${id}`,
          '~/../../root/.ssh/id_ed25519',
          '/proc/self/environ',
          '\\..\\..\\windows',
          '/dev/null'
        ]);
      case 'glob':
        return r.pick(GLOBS) + r.pick(['', `$(${cmd})`, '/x']);
      case 'mixture': {
        const parts: string[] = [];
        const n = 2 + r.int(2);
        for (let i = 0; i < n; i++) {
          parts.push(
            this._payload(
              r.pick(FAMILIES.filter(f => f !== 'mixture' && f !== 'long')),
              id
            )
          );
        }
        return parts.join('');
      }
    }
  }

  private _count = 0;
}

/** Values of the wrong JSON type, for fields that want a string or number. */
export const WRONG_TYPES: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  [],
  ['a'],
  {},
  { $ref: '#' },
  '',
  '22',
  1.5
];

/**
 * Reads the output of COLLECT_SCRIPT (collect-script.ts) back into plain
 * facts. Pure: bytes in, data out. Every field is decoded as UTF-8 (a path
 * with bytes that are not UTF-8 is shown with U+FFFD, the same way every
 * time, so it still matches itself).
 */

/** Where a candidate env came from, as the script names it. */
export type PrefixOrigin =
  | 'root'
  | 'envs-dir'
  | 'environments.txt'
  | 'env-var'
  /** `@e`: a prefix the sidecar knew of ($CONDA_PREFIX of the Jupyter server). */
  | 'e'
  /** `@c`: a prefix only `conda env list` knew. */
  | 'c'
  /** `@j`: the JupyterLab env named by the cluster's settings. */
  | 'j';

export interface IPrefixFacts {
  prefix: string;
  origin: PrefixOrigin;
  /** The directory exists. */
  exists: boolean;
  /** It exists but cannot be entered (no search permission). */
  unenterable: boolean;
  /** conda-meta/ is a directory. */
  condaMeta: boolean;
  /** conda-meta/ exists but cannot be listed. */
  condaMetaUnreadable: boolean;
  /** bin/python is executable (following symlinks). */
  python: boolean;
  /** conda-meta record file names, e.g. `python-3.11.2-0_cpython.json`. */
  pythonRecords: string[];
  ipykernelRecords: string[];
  jupyterlabRecords: string[];
}

export type ToolName = 'conda' | 'mamba' | 'micromamba';

export interface ICollectedFacts {
  home: string;
  /** The conda/mamba/Jupyter variables that were set, by name. */
  vars: Record<string, string>;
  /** Executables found, in the order found (the first of a tool wins). */
  tools: { tool: ToolName; path: string }[];
  /** The tools the login shell's PATH finds by name, without repeats. */
  toolsOnPath: ToolName[];
  /** Install roots (directories with conda-meta/), the first is the main one. */
  roots: { path: string; origin: string }[];
  /** Existing envs directories. */
  envsDirs: { path: string; origin: string }[];
  /** .condarc/.mambarc files seen. */
  rcFiles: { path: string; readable: boolean }[];
  /** Non-empty lines of ~/.conda/environments.txt, trimmed. */
  environmentsTxt: string[];
  /** One per candidate looked at; a prefix may appear more than once. */
  prefixes: IPrefixFacts[];
  /**
   * Kernelspec directories looked at, in order, with their role: `a` given
   * by the caller, `p` from $JUPYTER_PATH, `u` the user data dir, `s` system.
   */
  kernelDirs: { path: string; role: string }[];
  /** Text of every kernel.json found, by path. */
  kernelFiles: Map<string, string>;
}

export class FactsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FactsError';
  }
}

/** Number of fields after the record name, per record. */
const FIELDS: Record<string, number> = {
  H: 1,
  V: 2,
  X: 2,
  W: 1,
  R: 2,
  D: 2,
  C: 2,
  T: 1,
  K: 2,
  P: 6,
  G: 0
};

const ORIGINS = new Set<string>([
  'root',
  'envs-dir',
  'environments.txt',
  'env-var',
  'e',
  'c',
  'j'
]);

const TOOLS = new Set<string>(['conda', 'mamba', 'micromamba']);

function records(names: string): string[] {
  return names === '' ? [] : names.split('/');
}

/**
 * Parse the script's stdout.
 *
 * @throws FactsError when the output is not what the script prints (cut
 *   short before its `G` record, or an unknown record).
 */
export function parseFacts(stdout: Buffer): ICollectedFacts {
  const facts: ICollectedFacts = {
    home: '',
    vars: {},
    tools: [],
    toolsOnPath: [],
    roots: [],
    envsDirs: [],
    rcFiles: [],
    environmentsTxt: [],
    prefixes: [],
    kernelDirs: [],
    kernelFiles: new Map()
  };
  let pos = 0;
  const field = (): string => {
    const end = stdout.indexOf(0, pos);
    if (end < 0) {
      throw new FactsError(
        'The environment scan output ended in the middle of a record.'
      );
    }
    const text = stdout.toString('utf8', pos, end);
    pos = end + 1;
    return text;
  };
  let sawHome = false;
  for (;;) {
    if (pos >= stdout.length) {
      throw new FactsError(
        sawHome
          ? 'The environment scan stopped before it finished.'
          : 'The environment scan printed nothing.'
      );
    }
    const kind = field();
    const count = FIELDS[kind];
    if (count === undefined) {
      throw new FactsError(
        `The environment scan printed an unknown record ${JSON.stringify(kind.slice(0, 20))}.`
      );
    }
    const f: string[] = [];
    for (let i = 0; i < count; i++) {
      f.push(field());
    }
    switch (kind) {
      case 'H':
        facts.home = f[0];
        sawHome = true;
        break;
      case 'V':
        facts.vars[f[0]] = f[1];
        break;
      case 'X':
        if (TOOLS.has(f[0])) {
          facts.tools.push({ tool: f[0] as ToolName, path: f[1] });
        }
        break;
      case 'W':
        if (TOOLS.has(f[0]) && !facts.toolsOnPath.includes(f[0] as ToolName)) {
          facts.toolsOnPath.push(f[0] as ToolName);
        }
        break;
      case 'R':
        facts.roots.push({ path: f[0], origin: f[1] });
        break;
      case 'D':
        facts.envsDirs.push({ path: f[0], origin: f[1] });
        break;
      case 'C':
        facts.rcFiles.push({ path: f[0], readable: f[1] === 'ok' });
        break;
      case 'T':
        facts.environmentsTxt.push(f[0]);
        break;
      case 'K':
        facts.kernelDirs.push({ path: f[0], role: f[1] });
        break;
      case 'P': {
        const [prefix, origin, flags, py, ipk, jl] = f;
        if (!ORIGINS.has(origin)) {
          throw new FactsError(`Unknown origin ${JSON.stringify(origin)}.`);
        }
        facts.prefixes.push({
          prefix,
          origin: origin as PrefixOrigin,
          exists: flags.includes('x'),
          unenterable: flags.includes('n'),
          condaMeta: flags.includes('m'),
          condaMetaUnreadable: flags.includes('u'),
          python: flags.includes('p'),
          pythonRecords: records(py),
          ipykernelRecords: records(ipk),
          jupyterlabRecords: records(jl)
        });
        break;
      }
      case 'G':
        readGrep(stdout, pos, facts.kernelFiles);
        return facts;
    }
  }
}

/**
 * `grep -H --null -e ''` output: for every line of every file, the file
 * name, NUL, the line, LF. A name may hold LF but not NUL; a line holds
 * neither LF nor (in a kernel.json) NUL, so reading name-to-NUL then
 * line-to-LF is unambiguous.
 */
function readGrep(out: Buffer, from: number, files: Map<string, string>) {
  // Lines of one file come together: decode each name once and each file's
  // text in one piece.
  let pos = from;
  let name: string | null = null;
  let nameAt = -1;
  let nameEnd = -1;
  let parts: Buffer[] = [];
  const flush = () => {
    if (name !== null) {
      files.set(
        name,
        (files.get(name) ?? '') + Buffer.concat(parts).toString('utf8')
      );
    }
    parts = [];
  };
  const NEWLINE = Buffer.from('\n');
  while (pos < out.length) {
    const nul = out.indexOf(0, pos);
    if (nul < 0) {
      break;
    }
    const lf = out.indexOf(0x0a, nul + 1);
    const end = lf < 0 ? out.length : lf;
    const same =
      name !== null &&
      nul - pos === nameEnd - nameAt &&
      out.compare(out, nameAt, nameEnd, pos, nul) === 0;
    if (!same) {
      flush();
      name = out.toString('utf8', pos, nul);
      nameAt = pos;
      nameEnd = nul;
    }
    parts.push(out.subarray(nul + 1, end), NEWLINE);
    pos = end + 1;
  }
  flush();
}

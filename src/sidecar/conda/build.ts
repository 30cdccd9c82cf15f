/**
 * Facts (facts.ts) in, IEnvironmentList out. Pure, so every rule here is
 * checked by table-driven tests with real collector output.
 */
import { posix } from 'path';

import type {
  EnvSource,
  ICondaEnvironment,
  IEnvironmentList,
  IEnvProblem,
  IKernelspecInfo
} from '../../common/api';
import type { ICollectedFacts, IPrefixFacts, PrefixOrigin } from './facts';
import { parseKernelspec } from './kernelspec';
import { compareCodePoints, condaKernelNames } from './naming';

export interface IBuildOptions {
  target: string;
  /**
   * Where registered kernels go: the local Jupyter's user kernels directory.
   * Null on a cluster, where it is `<jupyterlab env>/share/jupyter/kernels`.
   */
  kernelsDir: string | null;
  /**
   * On a cluster: the env that runs remote JupyterLab, a name or an absolute
   * prefix. Null locally.
   */
  jupyterEnvironment: string | null;
  scannedAt: number;
  durationMs: number;
  roundTrips: number;
}

const SOURCE: Record<PrefixOrigin, EnvSource | null> = {
  root: 'root',
  'envs-dir': 'envs-dir',
  'environments.txt': 'environments.txt',
  'env-var': 'env-var',
  e: 'env-var',
  c: 'conda',
  j: 'settings'
};

/** Drop trailing slashes ('/' stays '/'). */
export function normalizePrefix(path: string): string {
  let p = path;
  while (p.length > 1 && p.endsWith('/')) {
    p = p.slice(0, -1);
  }
  return p;
}

/** `python-3.11.2-0_cpython.json` → `3.11.2`. */
export function recordVersion(
  records: readonly string[],
  pkg: string
): string | null {
  for (const record of records) {
    if (!record.startsWith(pkg + '-')) {
      continue;
    }
    let version: string;
    if (record.endsWith('.dist-info')) {
      // pip's `<pkg>-<version>.dist-info`: no build string.
      version = record.slice(pkg.length + 1, -'.dist-info'.length);
    } else if (record.endsWith('.json')) {
      const rest = record.slice(pkg.length + 1, -'.json'.length);
      const dash = rest.lastIndexOf('-');
      version = dash > 0 ? rest.slice(0, dash) : rest;
    } else {
      continue;
    }
    // `python-dateutil-...` is another package.
    if (/^\d/.test(version)) {
      return version;
    }
  }
  return null;
}

interface ICandidate {
  prefix: string;
  facts: IPrefixFacts | null;
  sources: Set<EnvSource>;
  /** Named by environments.txt, a setting or a hint, not only found in a directory. */
  named: boolean;
}

function merge(a: IPrefixFacts, b: IPrefixFacts): IPrefixFacts {
  // The same prefix looked at twice (listed twice): keep what was seen.
  return {
    ...a,
    exists: a.exists || b.exists,
    condaMeta: a.condaMeta || b.condaMeta,
    python: a.python || b.python,
    pythonRecords: a.pythonRecords.length ? a.pythonRecords : b.pythonRecords,
    ipykernelRecords: a.ipykernelRecords.length
      ? a.ipykernelRecords
      : b.ipykernelRecords,
    jupyterlabRecords: a.jupyterlabRecords.length
      ? a.jupyterlabRecords
      : b.jupyterlabRecords
  };
}

function problemsOf(
  prefix: string,
  facts: IPrefixFacts | null,
  sources: Set<EnvSource>
): IEnvProblem[] {
  if (!facts || !facts.exists) {
    const where = sources.has('environments.txt')
      ? '~/.conda/environments.txt'
      : "the cluster's settings";
    return [
      {
        code: 'missing-prefix',
        message: `${prefix} is named in ${where} but does not exist.`
      }
    ];
  }
  if (facts.unenterable) {
    return [
      {
        code: 'unreadable',
        message: `${prefix} cannot be opened (permission denied).`
      }
    ];
  }
  if (!facts.condaMeta) {
    return [
      {
        code: 'not-conda',
        message: `${prefix} has no conda-meta directory: it is not a conda environment.`
      }
    ];
  }
  const problems: IEnvProblem[] = [];
  if (facts.condaMetaUnreadable) {
    problems.push({
      code: 'unreadable',
      message: `${prefix}/conda-meta cannot be read (permission denied): its packages are unknown.`
    });
  }
  if (!facts.python) {
    problems.push({
      code: 'missing-python',
      message: `${prefix}/bin/python is missing or not executable.`
    });
  }
  return problems;
}

/**
 * conda, mamba and micromamba: the first of each found, and which of them
 * the login PATH finds by name. None for no facts.
 */
export function condaTools(
  facts: Pick<ICollectedFacts, 'tools' | 'toolsOnPath'> | null
): Pick<IEnvironmentList, 'tools' | 'toolsOnPath'> {
  const tools: IEnvironmentList['tools'] = {
    conda: null,
    mamba: null,
    micromamba: null
  };
  for (const { tool, path } of facts?.tools ?? []) {
    tools[tool] ??= path;
  }
  return {
    tools,
    toolsOnPath: (facts?.toolsOnPath ?? []).filter(t => tools[t] !== null)
  };
}

/** Turn collected facts into the list the API answers with. */
export function buildEnvironmentList(
  facts: ICollectedFacts,
  options: IBuildOptions
): IEnvironmentList {
  const warnings: string[] = [];
  const roots = facts.roots.map(r => normalizePrefix(r.path));
  const rootSet = new Set(roots);
  const envsDirs = new Set(facts.envsDirs.map(d => normalizePrefix(d.path)));
  const mainRoot = roots[0] ?? null;

  const { tools, toolsOnPath } = condaTools(facts);

  const candidates = new Map<string, ICandidate>();
  const candidate = (prefix: string): ICandidate => {
    let c = candidates.get(prefix);
    if (!c) {
      c = { prefix, facts: null, sources: new Set(), named: false };
      candidates.set(prefix, c);
    }
    return c;
  };
  for (const p of facts.prefixes) {
    const prefix = normalizePrefix(p.prefix);
    const c = candidate(prefix);
    c.facts = c.facts ? merge(c.facts, p) : { ...p, prefix };
    const source = SOURCE[p.origin];
    if (source) {
      c.sources.add(source);
    }
    if (p.origin !== 'envs-dir' && p.origin !== 'root') {
      c.named = true;
    }
  }
  for (const root of facts.roots) {
    if (root.origin === 'env-var') {
      candidate(normalizePrefix(root.path)).sources.add('env-var');
    }
  }
  for (const line of facts.environmentsTxt) {
    if (!line.startsWith('/')) {
      continue;
    }
    const c = candidate(normalizePrefix(line));
    c.sources.add('environments.txt');
    c.named = true;
  }

  // A directory in an envs dir without conda-meta is not an env (conda
  // skips it too) unless something names it; a vanished prefix only counts
  // when environments.txt or a setting names it.
  const kept = [...candidates.values()].filter(c => {
    if (c.facts?.exists) {
      return c.facts.condaMeta || c.named;
    }
    return c.sources.has('environments.txt') || c.sources.has('settings');
  });

  for (const rc of facts.rcFiles) {
    if (!rc.readable) {
      warnings.push(
        `${rc.path} cannot be read: envs_dirs set there are not searched.`
      );
    }
  }

  const names = condaKernelNames(
    kept.map(c => c.prefix),
    mainRoot
  );
  const knownPrefixes = new Set(kept.map(c => c.prefix));

  // Kernelspecs, by kernels directory.
  const specsByDir = new Map<string, IKernelspecInfo[]>();
  const badSpecs = new Map<string, string[]>();
  for (const [file, text] of facts.kernelFiles) {
    if (posix.basename(file) !== 'kernel.json') {
      continue;
    }
    const specDir = posix.dirname(file);
    const dir = posix.dirname(specDir);
    const parsed = parseKernelspec(specDir, text, knownPrefixes);
    if (parsed.error) {
      const list = badSpecs.get(dir) ?? [];
      list.push(`${file}: ${parsed.error}`);
      badSpecs.set(dir, list);
    }
    const list = specsByDir.get(dir) ?? [];
    list.push(parsed.info);
    specsByDir.set(dir, list);
  }
  for (const list of specsByDir.values()) {
    list.sort((a, b) => compareCodePoints(a.name, b.name));
  }

  const envs: ICondaEnvironment[] = kept.map(c => {
    const f = c.facts;
    const prefix = c.prefix;
    const parent = posix.dirname(prefix);
    const isRoot = rootSet.has(prefix);
    const kind: ICondaEnvironment['kind'] = isRoot
      ? 'base'
      : envsDirs.has(parent) || posix.basename(parent) === 'envs'
        ? 'named'
        : 'prefix';
    const name = prefix === mainRoot ? 'base' : posix.basename(prefix);
    const envRoot = isRoot
      ? prefix
      : parent.endsWith('/envs') && rootSet.has(posix.dirname(parent))
        ? posix.dirname(parent)
        : null;
    const problems = problemsOf(prefix, f, c.sources);
    const kernelsDir = posix.join(prefix, 'share', 'jupyter', 'kernels');
    for (const bad of badSpecs.get(kernelsDir) ?? []) {
      problems.push({ code: 'bad-kernelspec', message: bad });
    }
    const naming = names.get(prefix)!;
    return {
      name,
      prefix,
      kind,
      root: envRoot,
      pythonVersion: f ? recordVersion(f.pythonRecords, 'python') : null,
      ipykernelVersion: f
        ? recordVersion(f.ipykernelRecords, 'ipykernel')
        : null,
      jupyterlabVersion: f
        ? recordVersion(f.jupyterlabRecords, 'jupyterlab')
        : null,
      kernelspecs: specsByDir.get(kernelsDir) ?? [],
      kernelName: naming.kernelName,
      displayName: naming.displayName,
      registered: null,
      sources: [...c.sources],
      problems
    };
  });
  // The main root first, then conda's order (sorted prefixes).
  envs.sort((a, b) =>
    a.prefix === mainRoot
      ? -1
      : b.prefix === mainRoot
        ? 1
        : compareCodePoints(a.prefix, b.prefix)
  );

  // The JupyterLab env of a cluster, and where kernels are looked for.
  let jupyterlabPrefix: string | null = null;
  let kernelsDir = options.kernelsDir;
  if (options.jupyterEnvironment !== null) {
    const wanted = options.jupyterEnvironment;
    const found = wanted.startsWith('/')
      ? envs.find(e => e.prefix === normalizePrefix(wanted))
      : (envs.find(
          e => e.kind === 'named' && e.name === wanted && e.root === mainRoot
        ) ??
        envs.find(e => e.kind !== 'base' && e.name === wanted) ??
        envs.find(e => e.name === wanted));
    if (found && found.problems.every(p => p.code !== 'missing-prefix')) {
      jupyterlabPrefix = found.prefix;
      kernelsDir = posix.join(found.prefix, 'share', 'jupyter', 'kernels');
      if (found.jupyterlabVersion === null) {
        warnings.push(
          `JupyterLab is not installed in the environment ${found.name} (${found.prefix}) chosen for remote sessions.`
        );
      }
    } else {
      warnings.push(
        `The JupyterLab environment "${wanted}" was not found: kernels cannot be registered until it exists (or choose another one in the cluster's settings).`
      );
    }
  }

  // Kernelspecs as Jupyter sees them: its path in order, first name wins.
  const order: string[] = [];
  const roleDirs = (role: string) =>
    facts.kernelDirs.filter(k => k.role === role).map(k => k.path);
  order.push(...roleDirs('a'), ...roleDirs('p'), ...roleDirs('u'));
  if (jupyterlabPrefix !== null) {
    order.push(posix.join(jupyterlabPrefix, 'share', 'jupyter', 'kernels'));
  }
  order.push(...roleDirs('s'));
  if (kernelsDir !== null && !order.includes(kernelsDir)) {
    order.unshift(kernelsDir);
  }
  const kernelspecs: IKernelspecInfo[] = [];
  const seen = new Set<string>();
  for (const dir of order) {
    for (const spec of specsByDir.get(dir) ?? []) {
      if (!seen.has(spec.name)) {
        seen.add(spec.name);
        kernelspecs.push(spec);
      }
    }
    if (
      !envs.some(e => posix.join(e.prefix, 'share/jupyter/kernels') === dir)
    ) {
      for (const bad of badSpecs.get(dir) ?? []) {
        warnings.push(bad);
      }
    }
  }
  for (const env of envs) {
    const runs = kernelspecs.filter(k => k.envPrefix === env.prefix);
    env.registered =
      runs.find(k => k.name === env.kernelName) ?? runs[0] ?? null;
  }

  return {
    target: options.target,
    envs,
    roots,
    tools,
    toolsOnPath,
    kernelsDir,
    jupyterlabPrefix,
    kernelspecs,
    scannedAt: options.scannedAt,
    durationMs: options.durationMs,
    roundTrips: options.roundTrips,
    cached: false,
    warnings
  };
}

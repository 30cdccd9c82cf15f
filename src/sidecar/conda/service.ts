/**
 * Conda environments and kernels per target (this computer, or a cluster):
 * scans through the target's transport (one command, so one round trip on a
 * cluster), caches the answer per target, registers and removes kernelspecs,
 * and tells the frontends (`envs-changed`) whenever something changed.
 *
 * `conda env list --json` is never waited for: conda can take seconds
 * (conda#14500). When a conda, mamba or micromamba executable is found, it
 * runs after the first scan of a target and after each explicit refresh, in
 * the background; environments only it knew are then scanned (one more
 * round trip, only when there are any) and remembered for later scans.
 */
import { posix } from 'path';
import { performance } from 'perf_hooks';

import type {
  ErrorCode,
  IEnvironmentList,
  IKernelspecInfo,
  IRegisterKernelRequest,
  IRegisterKernelResult,
  SidecarEvent
} from '../../common/api';
import { LOCAL_TARGET } from '../../common/api';
import {
  DEFAULT_JOB_DEFAULTS,
  type IClusterConfig
} from '../../common/settings';
import type { ILogger } from '../log';
import { SidecarError } from '../errors';
import type { ITransport } from '../transport/types';
import { buildEnvironmentList, normalizePrefix } from './build';
import { collectCommand, type ICollectHints } from './collect-script';
import { FactsError, parseFacts } from './facts';
import {
  buildKernelJson,
  parseKernelspec,
  REGISTER_SCRIPT,
  UNREGISTER_SCRIPT
} from './kernelspec';

/** The clusters, as far as environments need them (ClusterManager). */
export interface IEnvClusters {
  transport(name: string): ITransport;
  config(name: string): IClusterConfig;
}

/** This computer: where its Jupyter keeps kernelspecs, and what it knows. */
export interface ILocalEnvTarget {
  transport: ITransport;
  /** The user kernels directory, where registered kernels are written. */
  kernelsDir: string;
  /** Every kernels directory Jupyter reads, in its order. */
  kernelPath: string[];
  /** Prefixes, roots and executables from the sidecar's own environment. */
  hints: ICollectHints;
}

export interface IEnvironmentServiceOptions {
  broadcast: (event: SidecarEvent) => void;
  clusters: IEnvClusters | null;
  local: ILocalEnvTarget;
  log?: ILogger;
  now?: () => number;
  /** Milliseconds a scan may take (default 60 s). */
  scanTimeoutMs?: number;
  /** Milliseconds `conda env list` may take (default 120 s). */
  condaTimeoutMs?: number;
}

/**
 * Where this computer's Jupyter keeps kernelspecs, from the variables
 * jupyterlab_hpc/proxy.py sets (jupyter_data_dir() and
 * jupyter_path('kernels') of the Jupyter server), else Jupyter's defaults.
 */
export function localEnvTarget(
  transport: ITransport,
  env: NodeJS.ProcessEnv,
  home: string
): ILocalEnvTarget {
  const dataDir =
    env.JUPYTERLAB_HPC_JUPYTER_DATA_DIR ||
    env.JUPYTER_DATA_DIR ||
    posix.join(home, '.local', 'share', 'jupyter');
  const kernelsDir = posix.join(dataDir, 'kernels');
  const given = (env.JUPYTERLAB_HPC_KERNEL_PATH ?? '')
    .split(':')
    .filter(p => p.startsWith('/'));
  const kernelPath = given.length
    ? given
    : [
        ...(env.JUPYTER_PATH ?? '')
          .split(':')
          .filter(p => p.startsWith('/'))
          .map(p => posix.join(p, 'kernels')),
        kernelsDir,
        '/usr/local/share/jupyter/kernels',
        '/usr/share/jupyter/kernels'
      ];
  if (!kernelPath.includes(kernelsDir)) {
    kernelPath.unshift(kernelsDir);
  }
  const exe = env.CONDA_EXE ?? '';
  return {
    transport,
    kernelsDir,
    kernelPath,
    hints: {
      envPrefixes: [env.CONDA_PREFIX ?? ''],
      roots: [
        env.MAMBA_ROOT_PREFIX ?? '',
        /\/(?:bin|condabin)\/conda$/.test(exe)
          ? posix.dirname(posix.dirname(exe))
          : ''
      ],
      executables: [exe, env.MAMBA_EXE ?? '']
    }
  };
}

interface ICacheEntry {
  list: IEnvironmentList;
  /** The JupyterLab env setting the list was made for. */
  key: string;
}

interface IContext {
  transport: ITransport;
  jupyterEnvironment: string | null;
  kernelsDir: string | null;
  hints: ICollectHints;
}

const MAX_SCAN_OUTPUT = 64 * 1024 * 1024;

function fail(code: ErrorCode, message: string): SidecarError {
  return new SidecarError(code, message);
}

function where(target: string): string {
  return target === LOCAL_TARGET ? 'this computer' : target;
}

function kernelsSignature(list: IEnvironmentList): string {
  return JSON.stringify(
    list.kernelspecs.map(k => [k.name, k.path, k.envPrefix, k.displayName])
  );
}

function tail(text: Buffer): string {
  const s = text.toString('utf8').trim();
  return s.length > 500 ? '…' + s.slice(-500) : s;
}

export class EnvironmentService {
  constructor(private readonly _options: IEnvironmentServiceOptions) {
    this._now = _options.now ?? Date.now;
  }

  /**
   * The target's environments: from the cache unless `refresh` is set or
   * there is none (or the cluster's JupyterLab env setting changed).
   */
  async list(target: string, refresh = false): Promise<IEnvironmentList> {
    const cached = this._cache.get(target);
    if (!refresh && cached && cached.key === this._key(target)) {
      return { ...cached.list, cached: true };
    }
    return this._rescan(target, refresh || !cached);
  }

  /**
   * Scan again now and tell every frontend (`envs-changed`). For code that
   * changed a target's envs, e.g. after installing ipykernel or Miniforge.
   */
  refresh(target: string): Promise<IEnvironmentList> {
    return this._rescan(target, true);
  }

  /**
   * Write a kernelspec that runs `request.prefix` into the target's kernels
   * directory, as `python -m ipykernel install --prefix=<dir> --name=<name>`
   * does. A kernelspec that already runs the env is returned as it is.
   */
  async register(
    target: string,
    request: IRegisterKernelRequest
  ): Promise<IRegisterKernelResult> {
    const context = this._context(target);
    const list = await this._rescan(target, false);
    const prefix = normalizePrefix(request.prefix);
    const env = list.envs.find(e => e.prefix === prefix);
    if (!env || env.problems.some(p => p.code === 'missing-prefix')) {
      throw fail(
        'env-not-found',
        `There is no conda environment at ${prefix} on ${where(target)}.`
      );
    }
    if (env.problems.some(p => p.code === 'missing-python')) {
      throw fail(
        'ipykernel-missing',
        `The environment ${env.name} cannot run a kernel: ${prefix}/bin/python is missing.`
      );
    }
    if (env.ipykernelVersion === null) {
      throw fail(
        'ipykernel-missing',
        `ipykernel is not installed in the environment ${env.name} (${prefix}): install it first.`
      );
    }
    const dir = list.kernelsDir;
    if (dir === null) {
      throw fail(
        'kernels-dir-unknown',
        `Kernels cannot be registered on ${where(target)}: ${list.warnings[0] ?? 'the JupyterLab environment was not found.'}`
      );
    }
    if (env.registered) {
      return { kernel: env.registered, created: false };
    }
    const name = (request.kernelName ?? env.kernelName).toLowerCase();
    const clash = list.kernelspecs.find(k => k.name === name);
    if (clash) {
      throw fail(
        'kernel-exists',
        `A kernel named ${name} exists already (${clash.path}, running ${clash.envPrefix ?? clash.executable}): choose another name.`
      );
    }
    const text = buildKernelJson({
      prefix,
      displayName: request.displayName ?? env.displayName,
      envName: env.name,
      target
    });
    const out = await context.transport.run(
      {
        argv: [
          '/bin/sh',
          '-c',
          REGISTER_SCRIPT,
          'jlhpc-register',
          dir,
          name,
          text,
          prefix
        ]
      },
      { signal: AbortSignal.timeout(this._scanTimeout), maxOutputBytes: 1e6 }
    );
    const specDir = posix.join(dir, name);
    const stdout = out.stdout.toString('utf8');
    if (out.exitCode === 0 && stdout.startsWith('exists\0')) {
      // Made between our scan and the write.
      const existing = parseKernelspec(
        specDir,
        stdout.slice('exists\0'.length),
        new Set([prefix])
      ).info;
      if (existing.envPrefix !== prefix) {
        throw fail(
          'kernel-exists',
          `A kernel named ${name} exists already (${specDir}): choose another name.`
        );
      }
      return { kernel: existing, created: false };
    }
    if (out.exitCode !== 0 || !stdout.startsWith('created\0')) {
      throw fail(
        'kernel-write-failed',
        `The kernelspec ${specDir} could not be written on ${where(target)}: ${tail(out.stderr) || `exit status ${out.exitCode}`}`
      );
    }
    this._touch(target);
    const after = await this._rescan(target, false, true);
    const kernel =
      after.kernelspecs.find(k => k.name === name) ??
      parseKernelspec(specDir, text, new Set([prefix])).info;
    this._options.log?.info(
      `registered kernel ${name} for ${prefix} on ${where(target)}`
    );
    return { kernel, created: true };
  }

  /** Remove a kernelspec that runs a conda env (or that we wrote). */
  async unregister(target: string, name: string): Promise<IKernelspecInfo> {
    const context = this._context(target);
    const list = await this._rescan(target, false);
    const wanted = name.toLowerCase();
    const spec = list.kernelspecs.find(k => k.name === wanted);
    if (!spec) {
      throw fail(
        'kernel-not-found',
        `There is no kernel named ${name} on ${where(target)}.`
      );
    }
    const runsEnv =
      spec.envPrefix !== null &&
      list.envs.some(e => e.prefix === spec.envPrefix);
    if (!spec.managed && !runsEnv) {
      throw fail(
        'kernel-not-managed',
        `The kernel ${spec.name} (${spec.path}) does not run a conda environment, so it is left alone; remove it with \`jupyter kernelspec remove ${spec.name}\`.`
      );
    }
    const out = await context.transport.run(
      {
        argv: [
          '/bin/sh',
          '-c',
          UNREGISTER_SCRIPT,
          'jlhpc-unregister',
          spec.path
        ]
      },
      { signal: AbortSignal.timeout(this._scanTimeout), maxOutputBytes: 1e6 }
    );
    if (out.exitCode === 4) {
      throw fail(
        'kernel-not-found',
        `The kernel ${spec.name} was already removed from ${where(target)}.`
      );
    }
    if (out.exitCode !== 0) {
      throw fail(
        'kernel-write-failed',
        `The kernelspec ${spec.path} could not be removed on ${where(target)}: ${tail(out.stderr) || `exit status ${out.exitCode}`}`
      );
    }
    this._touch(target);
    await this._rescan(target, false, true);
    this._options.log?.info(
      `removed kernel ${spec.name} (${spec.path}) on ${where(target)}`
    );
    return spec;
  }

  /**
   * Scan, joining a scan already running for the target unless `fresh`
   * asks for one that starts after the last change we made (`_touch`).
   */
  private _rescan(
    target: string,
    withConda: boolean,
    fresh = false
  ): Promise<IEnvironmentList> {
    let running = this._running.get(target);
    if (!running || (fresh && running.epoch !== this._epoch(target))) {
      const entry = {
        epoch: this._epoch(target),
        promise: this._scan(target).finally(() => {
          if (this._running.get(target) === entry) {
            this._running.delete(target);
          }
        })
      };
      this._running.set(target, entry);
      running = entry;
    }
    return running.promise.then(list => {
      if (withConda) {
        this._condaPass(target, list);
      }
      return list;
    });
  }

  private async _scan(target: string): Promise<IEnvironmentList> {
    const context = this._context(target);
    const key = this._key(target);
    const epoch = this._epoch(target);
    const known = [...(this._condaKnown.get(target) ?? [])];
    const started = performance.now();
    const scannedAt = this._now();
    const out = await context.transport.run(
      collectCommand({
        ...context.hints,
        condaPrefixes: known,
        jupyterlabPrefix: context.jupyterEnvironment?.startsWith('/')
          ? context.jupyterEnvironment
          : null
      }),
      {
        signal: AbortSignal.timeout(this._scanTimeout),
        maxOutputBytes: MAX_SCAN_OUTPUT
      }
    );
    if (out.stdoutTruncated) {
      throw fail(
        'env-scan-failed',
        `The environment scan on ${where(target)} printed more than ${MAX_SCAN_OUTPUT} bytes.`
      );
    }
    let facts;
    try {
      facts = parseFacts(out.stdout);
    } catch (err) {
      if (err instanceof FactsError) {
        const detail = tail(out.stderr);
        throw fail(
          'env-scan-failed',
          `The environment scan on ${where(target)} failed: ${err.message}${detail ? ` (${detail})` : ''}`
        );
      }
      throw err;
    }
    const list = buildEnvironmentList(facts, {
      target,
      kernelsDir: context.kernelsDir,
      jupyterEnvironment: context.jupyterEnvironment,
      scannedAt,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      roundTrips: context.transport.kind === 'ssh' ? 1 : 0
    });
    const condaWarning = this._condaWarnings.get(target);
    if (condaWarning) {
      list.warnings.push(condaWarning);
    }
    if (this._epoch(target) === epoch) {
      const before = this._cache.get(target);
      this._cache.set(target, { list, key });
      this._options.broadcast({
        type: 'envs-changed',
        target,
        kernelsChanged:
          !before || kernelsSignature(before.list) !== kernelsSignature(list)
      });
    }
    return list;
  }

  /** `conda env list --json` in the background; see the module comment. */
  private _condaPass(target: string, list: IEnvironmentList): void {
    const exe = list.tools.conda ?? list.tools.mamba ?? list.tools.micromamba;
    if (!exe || this._condaRunning.has(target)) {
      return;
    }
    this._condaRunning.add(target);
    const log = this._options.log;
    void (async () => {
      let context: IContext;
      try {
        context = this._context(target);
      } catch {
        return;
      }
      const out = await context.transport.run(
        { argv: [exe, 'env', 'list', '--json'] },
        {
          signal: AbortSignal.timeout(this._condaTimeout),
          maxOutputBytes: 8 * 1024 * 1024
        }
      );
      let prefixes: string[] | null = null;
      try {
        const body = JSON.parse(out.stdout.toString('utf8')) as {
          envs?: unknown;
        };
        if (Array.isArray(body.envs)) {
          prefixes = body.envs
            .filter((p): p is string => typeof p === 'string')
            .filter(p => p.startsWith('/'))
            .map(normalizePrefix);
        }
      } catch {
        prefixes = null;
      }
      if (out.exitCode !== 0 || prefixes === null) {
        const warning = `\`${posix.basename(exe)} env list --json\` failed on ${where(target)} (${tail(out.stderr) || `exit status ${out.exitCode}`}); the environments above were found without it.`;
        this._condaWarnings.set(target, warning);
        const entry = this._cache.get(target);
        if (entry && !entry.list.warnings.includes(warning)) {
          entry.list.warnings.push(warning);
          this._options.broadcast({
            type: 'envs-changed',
            target,
            kernelsChanged: false
          });
        }
        return;
      }
      this._condaWarnings.delete(target);
      const current = this._cache.get(target)?.list ?? list;
      const fresh = prefixes.filter(
        p => !current.envs.some(e => e.prefix === p)
      );
      const known = this._condaKnown.get(target) ?? new Set<string>();
      if (fresh.some(p => !known.has(p))) {
        this._condaKnown.set(target, new Set([...known, ...fresh]));
        this._touch(target);
        await this._rescan(target, false, true);
      }
    })()
      .catch(err => {
        log?.warn(
          `conda env list on ${where(target)} failed: ${(err as Error).message}`
        );
      })
      .finally(() => this._condaRunning.delete(target));
  }

  private _context(target: string): IContext {
    if (target === LOCAL_TARGET) {
      const local = this._options.local;
      return {
        transport: local.transport,
        jupyterEnvironment: null,
        kernelsDir: local.kernelsDir,
        hints: { ...local.hints, kernelDirs: local.kernelPath }
      };
    }
    const clusters = this._options.clusters;
    if (!clusters) {
      throw fail('unknown-cluster', `There is no cluster named "${target}".`);
    }
    const transport = clusters.transport(target);
    return {
      transport,
      jupyterEnvironment: this._jupyterEnvironment(target),
      kernelsDir: null,
      hints: {}
    };
  }

  /** The JupyterLab env setting of a cluster (null locally). */
  private _jupyterEnvironment(target: string): string | null {
    if (target === LOCAL_TARGET || !this._options.clusters) {
      return null;
    }
    return (
      this._options.clusters.config(target).jupyterEnvironment ||
      DEFAULT_JOB_DEFAULTS.jupyterEnvironment
    );
  }

  /** What a cached list depends on: a cluster's whole settings. */
  private _key(target: string): string {
    if (target === LOCAL_TARGET || !this._options.clusters) {
      return '';
    }
    return JSON.stringify(this._options.clusters.config(target));
  }

  private _epoch(target: string): number {
    return this._epochs.get(target) ?? 0;
  }

  /** We changed the target: scans already running must not fill the cache. */
  private _touch(target: string): void {
    this._epochs.set(target, this._epoch(target) + 1);
  }

  private get _scanTimeout(): number {
    return this._options.scanTimeoutMs ?? 60_000;
  }

  private get _condaTimeout(): number {
    return this._options.condaTimeoutMs ?? 120_000;
  }

  private readonly _now: () => number;
  private readonly _cache = new Map<string, ICacheEntry>();
  private readonly _running = new Map<
    string,
    { epoch: number; promise: Promise<IEnvironmentList> }
  >();
  private readonly _epochs = new Map<string, number>();
  private readonly _condaKnown = new Map<string, Set<string>>();
  private readonly _condaWarnings = new Map<string, string>();
  private readonly _condaRunning = new Set<string>();
}

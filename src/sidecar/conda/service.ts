/**
 * Conda environments and kernels per target (this computer, or a cluster):
 * scans through the target's transport (one command, so one round trip on a
 * cluster), caches the answer per target, registers and removes kernelspecs
 * (`kernels.ts`), and tells the frontends (`envs-changed`) whenever
 * something changed. `conda env list --json` is never waited for: it runs
 * in the background (`conda-pass.ts`).
 */
import { performance } from 'perf_hooks';

import type {
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
import { buildEnvironmentList } from './build';
import { collectCommand, type ICollectHints } from './collect-script';
import { CondaPass } from './conda-pass';
import { tail, where } from './describe';
import { FactsError, parseFacts } from './facts';
import {
  planRegistration,
  plannedKernel,
  planRemoval,
  removeKernelspec,
  writeKernelspec
} from './kernels';
import type { ILocalEnvTarget } from './local-target';

export { localEnvTarget } from './local-target';
export type { ILocalEnvTarget } from './local-target';

/** The clusters, as far as environments need them (ClusterManager). */
export interface IEnvClusters {
  transport(name: string): ITransport;
  config(name: string): IClusterConfig;
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

function kernelsSignature(list: IEnvironmentList): string {
  return JSON.stringify(
    list.kernelspecs.map(k => [k.name, k.path, k.envPrefix, k.displayName])
  );
}

export class EnvironmentService {
  constructor(private readonly _options: IEnvironmentServiceOptions) {
    this._now = _options.now ?? Date.now;
    this._conda = new CondaPass({
      transport: target => this._context(target).transport,
      cached: target => this._cache.get(target)?.list,
      addWarning: (target, warning) => {
        const entry = this._cache.get(target);
        if (entry && !entry.list.warnings.includes(warning)) {
          entry.list.warnings.push(warning);
          this._options.broadcast({
            type: 'envs-changed',
            target,
            kernelsChanged: false
          });
        }
      },
      rescan: target => {
        this._touch(target);
        return this._rescan(target, false, true);
      },
      log: _options.log,
      timeoutMs: _options.condaTimeoutMs ?? 120_000
    });
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
    const planned = planRegistration(target, list, request);
    if ('existing' in planned) {
      return planned.existing;
    }
    const { plan } = planned;
    const existing = await writeKernelspec(
      context.transport,
      plan,
      this._scanTimeout
    );
    if (existing) {
      return { kernel: existing, created: false };
    }
    this._touch(target);
    const after = await this._rescan(target, false, true);
    const kernel =
      after.kernelspecs.find(k => k.name === plan.name) ?? plannedKernel(plan);
    this._options.log?.info(
      `registered kernel ${plan.name} for ${plan.prefix} on ${where(target)}`
    );
    return { kernel, created: true };
  }

  /** Remove a kernelspec that runs a conda env (or that we wrote). */
  async unregister(target: string, name: string): Promise<IKernelspecInfo> {
    const context = this._context(target);
    const list = await this._rescan(target, false);
    const spec = planRemoval(target, list, name);
    await removeKernelspec(context.transport, target, spec, this._scanTimeout);
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
        this._conda.start(target, list);
      }
      return list;
    });
  }

  private async _scan(target: string): Promise<IEnvironmentList> {
    const context = this._context(target);
    const key = this._key(target);
    const epoch = this._epoch(target);
    const known = this._conda.known(target);
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
      throw new SidecarError(
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
        throw new SidecarError(
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
    const condaWarning = this._conda.warning(target);
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
      throw new SidecarError(
        'unknown-cluster',
        `There is no cluster named "${target}".`
      );
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

  private readonly _now: () => number;
  private readonly _cache = new Map<string, ICacheEntry>();
  private readonly _running = new Map<
    string,
    { epoch: number; promise: Promise<IEnvironmentList> }
  >();
  private readonly _epochs = new Map<string, number>();
  private readonly _conda: CondaPass;
}

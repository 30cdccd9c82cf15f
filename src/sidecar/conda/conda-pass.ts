/**
 * The background `conda env list --json` of a target. Conda can take
 * seconds (conda#14500), so no scan waits for it: it runs after the first
 * scan of a target and after each explicit refresh, and environments only
 * it knew are remembered for later scans, which look at them too.
 */
import { posix } from 'path';

import type { IEnvironmentList } from '../../common/api';
import type { ILogger } from '../log';
import type { ITransport } from '../transport/types';
import { normalizePrefix } from './build';
import { tail, where } from './describe';

/** What the pass needs of the environment service. */
export interface ICondaPassHost {
  /** The target's transport; throws when the target is gone. */
  transport(target: string): ITransport;
  /** The target's cached list, if any. */
  cached(target: string): IEnvironmentList | undefined;
  /** Show `warning` with the cached list (the pass failed). */
  addWarning(target: string, warning: string): void;
  /** Conda named environments the last scan did not: scan again. */
  rescan(target: string): Promise<unknown>;
  log?: ILogger;
  timeoutMs: number;
}

export class CondaPass {
  constructor(private readonly _host: ICondaPassHost) {}

  /** Prefixes only conda listed, for the next scan to look at. */
  known(target: string): string[] {
    return [...(this._known.get(target) ?? [])];
  }

  /** Why the last pass failed, for the next scan's warnings. */
  warning(target: string): string | undefined {
    return this._warnings.get(target);
  }

  /** Run the pass for a target whose scan gave `list`, unless one runs. */
  start(target: string, list: IEnvironmentList): void {
    const exe = list.tools.conda ?? list.tools.mamba ?? list.tools.micromamba;
    if (!exe || this._running.has(target)) {
      return;
    }
    this._running.add(target);
    void this._run(target, list, exe)
      .catch(err => {
        this._host.log?.warn(
          `conda env list on ${where(target)} failed: ${(err as Error).message}`
        );
      })
      .finally(() => this._running.delete(target));
  }

  private async _run(
    target: string,
    list: IEnvironmentList,
    exe: string
  ): Promise<void> {
    let transport: ITransport;
    try {
      transport = this._host.transport(target);
    } catch {
      return;
    }
    const out = await transport.run(
      { argv: [exe, 'env', 'list', '--json'] },
      {
        signal: AbortSignal.timeout(this._host.timeoutMs),
        maxOutputBytes: 8 * 1024 * 1024
      }
    );
    const prefixes = out.exitCode === 0 ? parseEnvList(out.stdout) : null;
    if (prefixes === null) {
      const warning = `\`${posix.basename(exe)} env list --json\` failed on ${where(target)} (${tail(out.stderr) || `exit status ${out.exitCode}`}); the environments above were found without it.`;
      this._warnings.set(target, warning);
      this._host.addWarning(target, warning);
      return;
    }
    this._warnings.delete(target);
    const current = this._host.cached(target) ?? list;
    const fresh = prefixes.filter(p => !current.envs.some(e => e.prefix === p));
    const known = this._known.get(target) ?? new Set<string>();
    if (fresh.some(p => !known.has(p))) {
      this._known.set(target, new Set([...known, ...fresh]));
      await this._host.rescan(target);
    }
  }

  private readonly _known = new Map<string, Set<string>>();
  private readonly _warnings = new Map<string, string>();
  private readonly _running = new Set<string>();
}

/** The absolute prefixes of `conda env list --json`; null if unreadable. */
export function parseEnvList(stdout: Buffer): string[] | null {
  try {
    const body = JSON.parse(stdout.toString('utf8')) as { envs?: unknown };
    if (!Array.isArray(body.envs)) {
      return null;
    }
    return body.envs
      .filter((p): p is string => typeof p === 'string')
      .filter(p => p.startsWith('/'))
      .map(normalizePrefix);
  } catch {
    return null;
  }
}

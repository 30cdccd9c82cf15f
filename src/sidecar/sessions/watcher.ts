/**
 * One cluster's watch.sh: started for the sessions the service names,
 * started again when that set changes, and again a second after it ends
 * (its time limit, or a lost connection), so the service hears what the
 * jobs record within a round trip. Its lines reach the service as events.
 */
import { PassThrough } from 'stream';

import type { ILogger } from '../log';
import type { ITransport } from '../transport/types';
import { parseWatchLine, watchCommand, type WatchEvent } from './remote';

/** The sessions to watch: for their JupyterLab, or for their exit alone. */
export interface IWatchSet {
  pending: string[];
  exitOnly: string[];
}

export interface ISessionWatcherOptions {
  cluster: string;
  transport(): Promise<ITransport>;
  /** What to watch now (read on every (re)start). */
  watched(): IWatchSet;
  onEvent(event: WatchEvent): void;
  log: ILogger;
  /** Seconds a watch.sh run lasts before it is started again. */
  seconds?: number;
}

export class SessionWatcher {
  constructor(private readonly _o: ISessionWatcherOptions) {}

  /** Start, or start again when what is to be watched changed. */
  refresh(): void {
    const { pending, exitOnly } = this._o.watched();
    const key = `${pending.join(' ')} -- ${exitOnly.join(' ')}`;
    if (key === this._key && this._abort) {
      return;
    }
    this._abort?.abort();
    this._abort = null;
    this._key = key;
    if (pending.length + exitOnly.length === 0 || this._disposed) {
      return;
    }
    const abort = new AbortController();
    this._abort = abort;
    void this._run(pending, exitOnly, abort).finally(() => {
      if (this._abort === abort) {
        this._abort = null;
        this._key = '';
        // Ended by its time limit, or by a lost connection: go on watching
        // what is still pending, after a pause so a broken link does not spin.
        const t = setTimeout(() => this.refresh(), 1_000);
        t.unref?.();
      }
    });
  }

  dispose(): void {
    this._disposed = true;
    this._abort?.abort();
  }

  private async _run(
    ids: string[],
    exitOnly: string[],
    abort: AbortController
  ): Promise<void> {
    let pending = '';
    const onOutput = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
      if (stream !== 'stdout') {
        return;
      }
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const event = parseWatchLine(line);
        if (event && !abort.signal.aborted) {
          this._o.onEvent(event);
        }
      }
    };
    // Never written, held open while this run is wanted (see watch.sh).
    const input = new PassThrough();
    try {
      const transport = await this._o.transport();
      const seconds = this._o.seconds ?? 600;
      await transport.run(watchCommand(ids, seconds, exitOnly, true), {
        onOutput,
        signal: abort.signal,
        stdin: input
      });
    } catch (err) {
      if (!abort.signal.aborted) {
        this._o.log.debug(
          `sessions: watch on ${this._o.cluster} ended: ${(err as Error).message}`
        );
      }
    } finally {
      input.destroy();
    }
  }

  private _abort: AbortController | null = null;
  private _key = '';
  private _disposed = false;
}

/**
 * The one SSH connection of a cluster, shared by everything that uses the
 * cluster (commands, forwards, kernels). It connects on first use, keeps the
 * connection open (keepalives, TCP_NODELAY), and when the connection is lost
 * while something still needs it — a forward is open, a command waits — it
 * reconnects with exponential backoff and jitter. Prompts (2FA codes,
 * passphrases) are asked at most once per attempt, whatever the number of
 * waiting users; when the user cancels one, automatic reconnects stop until
 * the next explicit use.
 */
import type { Duplex } from 'stream';

import type { ConnectionState, ErrorCode } from '../../common/api';
import { TransportError } from '../transport/errors';
import type { ICommandOptions, ITransport } from '../transport/types';
import type { AskpassBridge } from './askpass';
import { KeyCache } from './auth';
import { SshCommandRunner } from './command-runner';
import { IResolvedHost, SshConfigError } from './config';
import { hostLabel, IOpenConnection, openRoute } from './connect';
import type { IPrompter } from './prompter';
import type { ICommandOutput, IRemoteCommand } from './remote-command';
import { SessionLimiter } from './session-limiter';

export interface IConnectionStateInfo {
  state: ConnectionState;
  error: { code: ErrorCode; message: string } | null;
  nextAttemptAt: number | null;
  attempt: number;
}

export interface ISshConnectionOptions {
  /** Resolve the route anew on each attempt (the config may have changed). */
  resolve: () => IResolvedHost[];
  prompter: IPrompter;
  keys: KeyCache;
  home: string;
  agent?: string;
  env?: NodeJS.ProcessEnv;
  askpass?: AskpassBridge;
  onState?: (info: IConnectionStateInfo) => void;
  /** Backoff: first delay and cap, in ms. */
  backoffMs?: { initial: number; max: number };
  /** Attempts before giving up reconnecting on its own. */
  maxReconnectAttempts?: number;
  random?: () => number;
}

export class SshConnection implements ITransport {
  readonly kind = 'ssh' as const;

  constructor(private readonly _options: ISshConnectionOptions) {}

  get info(): IConnectionStateInfo {
    return { ...this._info };
  }

  /** The hosts of the current (or last tried) route, first to last. */
  get route(): string[] {
    return this._route;
  }

  get activeCommands(): number {
    return this._runner?.running ?? 0;
  }

  get queuedCommands(): number {
    return this._limiter.queued;
  }

  /**
   * Something that needs the connection to stay up (a forward). While any is
   * held, a lost connection is re-established on its own.
   */
  hold(): () => void {
    this._holds++;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this._holds--;
      }
    };
  }

  /** Connect if not connected; resolves once connected. */
  connect(): Promise<void> {
    if (this._closed) {
      return Promise.reject(
        new TransportError('disconnected', 'This connection was closed.')
      );
    }
    if (this._open) {
      return Promise.resolve();
    }
    // A user waiting does not sit out a backoff delay.
    this._wakeUp?.();
    return (this._connecting ??= this._attempt(true).finally(() => {
      this._connecting = null;
    }));
  }

  async run(
    command: IRemoteCommand,
    options?: ICommandOptions
  ): Promise<ICommandOutput> {
    await this.connect();
    return this._runner!.run(command, options);
  }

  async openStream(host: string, port: number): Promise<Duplex> {
    await this.connect();
    const client = this._open!.client;
    return new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => {
        if (err) {
          reject(
            new TransportError(
              'forward-failed',
              `${this._label} could not connect to ${host} port ${port}: ${err.message}`,
              { cause: err }
            )
          );
          return;
        }
        resolve(channel);
      });
    });
  }

  /** Drop the connection (it reconnects on next use). */
  disconnect(): void {
    this._abort?.abort();
    this._wakeUp?.();
    this._stopReconnecting = true;
    this._teardown(
      new TransportError('disconnected', `Disconnected from ${this._label}.`)
    );
    this._setState('idle', null);
  }

  async close(): Promise<void> {
    this._closed = true;
    this.disconnect();
  }

  private get _label(): string {
    return this._route[this._route.length - 1] ?? 'the cluster';
  }

  private async _attempt(interactive: boolean): Promise<void> {
    this._stopReconnecting = false;
    this._abort = new AbortController();
    let route: IResolvedHost[];
    try {
      route = this._options.resolve();
    } catch (err) {
      const e =
        err instanceof SshConfigError
          ? new TransportError('ssh-config', err.message)
          : err;
      this._fail(e);
      throw e;
    }
    this._route = route.map(hostLabel);
    this._setState('connecting', null);
    let open: IOpenConnection;
    try {
      open = await openRoute(route, {
        prompter: this._statePrompter(),
        keys: this._options.keys,
        home: this._options.home,
        agent: this._options.agent,
        env: this._options.env,
        askpass: this._options.askpass,
        interactive,
        signal: this._abort.signal
      });
    } catch (err) {
      this._fail(err);
      throw err;
    }
    if (this._closed) {
      open.close();
      throw new TransportError('disconnected', 'This connection was closed.');
    }
    this._open = open;
    this._limiter = new SessionLimiter();
    this._runner = new SshCommandRunner(
      open.client,
      this._limiter,
      this._label
    );
    this._reconnects = 0;
    const lost = (why?: Error) => this._lost(open, why);
    open.client.on('close', () => lost());
    open.client.on('error', (err: Error) => lost(err));
    // A jump host going away takes the route with it.
    for (const hop of open.clients.slice(0, -1)) {
      hop.on('close', () => lost());
    }
    this._setState('connected', null);
  }

  /** Wrap the prompter so the state says "needs input" while it waits. */
  private _statePrompter(): IPrompter {
    return {
      ask: async (request, signal) => {
        const before = this._info.state;
        this._setState('needs-input', null);
        try {
          return await this._options.prompter.ask(request, signal);
        } finally {
          if (this._info.state === 'needs-input') {
            this._setState(before, null);
          }
        }
      }
    };
  }

  private _lost(open: IOpenConnection, why?: Error): void {
    if (this._open !== open) {
      return;
    }
    const error = new TransportError(
      'connection-lost',
      `The connection to ${this._label} was lost${why ? `: ${why.message}` : '.'}`
    );
    this._teardown(error);
    if (this._closed || this._stopReconnecting) {
      return;
    }
    if (this._holds > 0) {
      void this._reconnectLoop(error);
    } else {
      // Nobody needs it now: connect again on next use, without asking.
      this._setState('idle', null);
    }
  }

  private async _reconnectLoop(error: TransportError): Promise<void> {
    const { initial, max } = this._options.backoffMs ?? {
      initial: 1000,
      max: 60_000
    };
    const random = this._options.random ?? Math.random;
    const maxAttempts = this._options.maxReconnectAttempts ?? 20;
    let last: { code: ErrorCode; message: string } = {
      code: error.code,
      message: error.message
    };
    while (
      !this._open &&
      !this._closed &&
      !this._stopReconnecting &&
      this._holds > 0
    ) {
      if (this._reconnects >= maxAttempts) {
        this._setState('error', last);
        return;
      }
      this._reconnects++;
      // Full jitter on an exponential backoff: clients of a rebooted login
      // node do not all come back at the same instant.
      const cap = Math.min(max, initial * 2 ** (this._reconnects - 1));
      const delay = Math.round(cap / 2 + (random() * cap) / 2);
      this._info.nextAttemptAt = Date.now() + delay;
      this._setState('reconnecting', last);
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, delay);
        this._wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this._wakeUp = null;
      this._info.nextAttemptAt = null;
      if (this._open || this._closed || this._stopReconnecting) {
        return;
      }
      try {
        // Only one attempt at a time, shared with users who call connect().
        await (this._connecting ??= this._attempt(true).finally(() => {
          this._connecting = null;
        }));
        return;
      } catch (err) {
        const e = err as TransportError;
        last = { code: e.code ?? 'connection-lost', message: e.message };
        if (
          e.code === 'auth-cancelled' ||
          e.code === 'host-key-changed' ||
          e.code === 'host-key-revoked' ||
          e.code === 'host-key-rejected' ||
          e.code === 'ssh-config'
        ) {
          // Asking again would ask the user again: wait for them instead.
          this._setState('error', last);
          return;
        }
      }
    }
  }

  private _teardown(reason: TransportError): void {
    const open = this._open;
    this._open = null;
    this._runner?.close(reason);
    this._runner = null;
    this._limiter.rejectAll(reason);
    open?.close();
  }

  private _fail(err: unknown): void {
    const e =
      err instanceof TransportError
        ? err
        : new TransportError(
            'connection-lost',
            `Connecting to ${this._label} failed: ${(err as Error).message}`
          );
    this._setState('error', { code: e.code, message: e.message });
  }

  private _setState(
    state: ConnectionState,
    error: { code: ErrorCode; message: string } | null
  ): void {
    this._info.state = state;
    this._info.error = error;
    this._info.attempt = this._reconnects;
    if (state !== 'reconnecting') {
      this._info.nextAttemptAt = null;
    }
    this._options.onState?.(this.info);
  }

  private _info: IConnectionStateInfo = {
    state: 'idle',
    error: null,
    nextAttemptAt: null,
    attempt: 0
  };
  private _route: string[] = [];
  private _open: IOpenConnection | null = null;
  private _connecting: Promise<void> | null = null;
  private _runner: SshCommandRunner | null = null;
  private _limiter = new SessionLimiter();
  private _abort: AbortController | null = null;
  private _wakeUp: (() => void) | null = null;
  private _holds = 0;
  private _reconnects = 0;
  private _closed = false;
  private _stopReconnecting = false;
}

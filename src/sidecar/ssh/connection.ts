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
import { existsSync } from 'fs';
import { createServer } from 'net';
import type { Duplex } from 'stream';

import type { ConnectionState, ErrorCode } from '../../common/api';
import { SidecarError } from '../errors';
import type { ICommandOptions, ITransport } from '../transport/types';
import type { AskpassBridge } from './askpass';
import { KeyCache } from './auth';
import { SshCommandRunner } from './command-runner';
import { IResolvedHost, SshConfigError } from './config';
import { hostLabel, IOpenConnection, openRoute } from './connect';
import type { IExecClient } from './exec-client';
import { IForwardSpec, OpenSshMaster } from './openssh/master';
import { masterPrompter, PassphraseMemory } from './openssh/questions';
import type { IPrompter } from './prompter';
import type { ICommandOutput, IRemoteCommand } from '../shell/remote-command';
import { SessionLimiter } from './session-limiter';

/**
 * Which SSH client carries the connection: OpenSSH (a ControlMaster whose
 * forwards never pass through Node) or the built-in ssh2 client.
 */
export type SshClientKind = 'openssh' | 'builtin';

/** One live connection, whichever client carries it. */
interface ILink {
  exec: IExecClient;
  openStream(host: string, port: number): Promise<Duplex>;
  /** Set when the client forwards ports itself (OpenSSH). */
  master: OpenSshMaster | null;
  /** Called once when the connection is gone. */
  onLost(listener: (why?: Error) => void): void;
  close(): void;
}

function builtinLink(open: IOpenConnection, label: () => string): ILink {
  return {
    exec: open.client,
    master: null,
    openStream: (host, port) =>
      new Promise((resolve, reject) => {
        open.client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => {
          if (err) {
            reject(
              new SidecarError(
                'forward-failed',
                `${label()} could not connect to ${host} port ${port}: ${err.message}`,
                { cause: err }
              )
            );
            return;
          }
          resolve(channel);
        });
      }),
    onLost: listener => {
      open.client.on('close', () => listener());
      open.client.on('error', (err: Error) => listener(err));
      // A jump host going away takes the route with it.
      for (const hop of open.clients.slice(0, -1)) {
        hop.on('close', () => listener());
      }
    },
    close: () => open.close()
  };
}

/** A forward held by the connection itself (OpenSSH), kept across reconnects. */
export interface INativeForward {
  readonly localPort: number;
  close(): Promise<void>;
}

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
  /** The SSH client; the built-in one unless said otherwise. */
  client?: SshClientKind;
  /** The ssh program, for the OpenSSH client. */
  ssh?: string;
  /** A forward the OpenSSH master could not make again after a reconnect. */
  onForwardLost?: (spec: IForwardSpec, err: Error) => void;
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
        new SidecarError('disconnected', 'This connection was closed.')
      );
    }
    if (this._link) {
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
    return this._link!.openStream(host, port);
  }

  /** True when forwards are made by the SSH client itself (OpenSSH). */
  get forwardsNatively(): boolean {
    return this._options.client === 'openssh';
  }

  get client(): SshClientKind {
    return this._options.client ?? 'builtin';
  }

  /**
   * `-L 127.0.0.1:localPort:host:port` held by the OpenSSH master, made
   * again on the next master after a reconnect. Port 0 picks a free port.
   */
  async forward(
    host: string,
    port: number,
    localPort = 0
  ): Promise<INativeForward> {
    await this.connect();
    const fixed = localPort !== 0;
    if (fixed && [...this._forwards].some(f => f.localPort === localPort)) {
      // The master would take a second identical request as the same one.
      throw new SidecarError(
        'forward-failed',
        `Port ${localPort} on 127.0.0.1 is already in use; choose another or leave it empty.`
      );
    }
    for (let tries = 0; ; tries++) {
      const spec: IForwardSpec = {
        host,
        port,
        localPort: fixed ? localPort : await freeLocalPort()
      };
      const master = this._link?.master;
      if (!master) {
        throw new SidecarError(
          'connection-lost',
          `The connection to ${this._label} was lost before the forward was made.`
        );
      }
      try {
        await master.forward(spec);
      } catch (err) {
        // Someone took the free port in between: pick another.
        if (
          !fixed &&
          tries < 5 &&
          (err as SidecarError).code === 'forward-failed' &&
          this._link?.master === master
        ) {
          continue;
        }
        throw err;
      }
      this._forwards.add(spec);
      return {
        localPort: spec.localPort,
        close: async () => {
          if (!this._forwards.delete(spec)) {
            return;
          }
          await this._link?.master?.cancelForward(spec).catch(() => undefined);
        }
      };
    }
  }

  /** Drop the connection (it reconnects on next use). */
  disconnect(): void {
    this._abort?.abort();
    this._wakeUp?.();
    this._stopReconnecting = true;
    this._teardown(
      new SidecarError('disconnected', `Disconnected from ${this._label}.`)
    );
    this._setState('idle', null);
  }

  async close(): Promise<void> {
    this._closed = true;
    this._passphrases.clear();
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
          ? new SidecarError('ssh-config', err.message)
          : err;
      this._fail(e);
      throw e;
    }
    this._route = route.map(hostLabel);
    this._setState('connecting', null);
    let link: ILink;
    let prompted: ReturnType<typeof masterPrompter> | null = null;
    try {
      if (this._options.client === 'openssh') {
        if (!this._options.askpass) {
          throw new SidecarError(
            'connection-lost',
            'The OpenSSH client needs the askpass bridge for its questions.'
          );
        }
        prompted = masterPrompter(this._statePrompter(), {
          label: this._label,
          home: this._options.home,
          memory: this._passphrases
        });
        const master = await OpenSshMaster.start({
          ssh: this._options.ssh ?? 'ssh',
          route,
          env: this._options.env ?? process.env,
          askpass: this._options.askpass,
          prompter: prompted,
          label: this._label,
          exists: path => existsSync(path),
          signal: this._abort.signal
        });
        link = {
          exec: master,
          master,
          openStream: (host, port) => master.openStream(host, port),
          onLost: listener => master.onClose(listener),
          close: () => master.close()
        };
      } else {
        const open = await openRoute(route, {
          prompter: this._statePrompter(),
          keys: this._options.keys,
          home: this._options.home,
          agent: this._options.agent,
          env: this._options.env,
          askpass: this._options.askpass,
          interactive,
          signal: this._abort.signal
        });
        link = builtinLink(open, () => this._label);
      }
    } catch (err) {
      this._fail(err);
      throw err;
    }
    prompted?.succeeded();
    if (this._closed) {
      link.close();
      throw new SidecarError('disconnected', 'This connection was closed.');
    }
    this._link = link;
    this._limiter = new SessionLimiter();
    this._runner = new SshCommandRunner(link.exec, this._limiter, this._label);
    this._reconnects = 0;
    link.onLost(why => this._lost(link, why));
    // Forwards of the last connection come back on the new one.
    for (const spec of [...this._forwards]) {
      await link.master?.forward(spec).catch((err: Error) => {
        this._forwards.delete(spec);
        this._options.onForwardLost?.(spec, err);
      });
    }
    if (this._link !== link) {
      // Lost again while the forwards were being made.
      throw new SidecarError(
        'connection-lost',
        `The connection to ${this._label} was lost again at once.`
      );
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

  private _lost(link: ILink, why?: Error): void {
    if (this._link !== link) {
      return;
    }
    const error = new SidecarError(
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

  private async _reconnectLoop(error: SidecarError): Promise<void> {
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
      !this._link &&
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
      if (this._link || this._closed || this._stopReconnecting) {
        return;
      }
      try {
        // Only one attempt at a time, shared with users who call connect().
        await (this._connecting ??= this._attempt(true).finally(() => {
          this._connecting = null;
        }));
        return;
      } catch (err) {
        const e = err as SidecarError;
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

  private _teardown(reason: SidecarError): void {
    const link = this._link;
    this._link = null;
    this._runner?.close(reason);
    this._runner = null;
    this._limiter.rejectAll(reason);
    link?.close();
  }

  private _fail(err: unknown): void {
    const e =
      err instanceof SidecarError
        ? err
        : new SidecarError(
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
  private _link: ILink | null = null;
  private readonly _forwards = new Set<IForwardSpec>();
  private readonly _passphrases = new PassphraseMemory();
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

/** A port on 127.0.0.1 that nobody listens on at this moment. */
function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

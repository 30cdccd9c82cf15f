/**
 * The clusters the user configured, each with its one transport (an SSH
 * connection or this computer), the forwards made through it, and the
 * actions the API offers on it: connect, test, run, forward, key setup.
 * The frontend sends the clusters from JupyterLab's settings; nothing about
 * them is stored here.
 */
import { spawnSync } from 'child_process';
import { homedir, userInfo } from 'os';
import { join } from 'path';
import { performance } from 'perf_hooks';

import type {
  IClusterStatus,
  IConnectionTest,
  IForward,
  IForwardRequest,
  IKeySetupRequest,
  IKeySetupResult,
  ISshHostAlias,
  ISshHosts,
  SidecarEvent
} from '../../common/api';
import { describeCluster, IClusterConfig } from '../../common/settings';
import { LocalForward } from '../forwards/local-forward';
import { AskpassBridge } from '../ssh/askpass';
import { KeyCache } from '../ssh/auth';
import {
  IResolvedHost,
  IResolveOptions,
  listHostAliases,
  resolveHost,
  resolveRoute,
  SshConfigError
} from '../ssh/config';
import { hostLabel, openRoute } from '../ssh/connect';
import {
  INativeForward,
  SshClientKind,
  SshConnection
} from '../ssh/connection';
import {
  ensureKeyPair,
  installKeyCommand,
  parseInstallResult
} from '../ssh/keys';
import type { ICommandOutput, IRemoteCommand } from '../shell/remote-command';
import { SidecarError } from '../errors';
import { LocalTransport } from '../transport/local';
import type { ICommandOptions, ITransport } from '../transport/types';
import { PromptBroker } from './prompts';
import { probeLoginEnvironment } from './test-connection';

export interface IClusterManagerOptions {
  broadcast: (event: SidecarEvent) => void;
  prompts: PromptBroker;
  /** The local user's home (for ~/.ssh); $HOME by default. */
  home?: string;
  env?: NodeJS.ProcessEnv;
}

interface IEntry {
  config: IClusterConfig;
  transport: SshConnection | LocalTransport;
  forwards: Map<string, IForwardEntry>;
}

/** A forward: through Node (LocalForward) or held by the OpenSSH master. */
interface IForwardEntry {
  forward: LocalForward | INativeForward;
  info: IForward;
  release: () => void;
}

let nextForwardId = 1;

export class ClusterManager {
  constructor(private readonly _options: IClusterManagerOptions) {
    this._home = _options.home ?? process.env.HOME ?? homedir();
    this._env = _options.env ?? process.env;
  }

  /** Replace the configured clusters; changed or removed ones are closed. */
  async setClusters(configs: IClusterConfig[]): Promise<void> {
    const wanted = new Map(configs.map(c => [c.name, c]));
    for (const [name, entry] of [...this._entries]) {
      const next = wanted.get(name);
      if (!next || JSON.stringify(next) !== JSON.stringify(entry.config)) {
        this._entries.delete(name);
        await this._closeEntry(entry);
      }
    }
    for (const config of configs) {
      if (!this._entries.has(config.name)) {
        this._entries.set(config.name, this._create(config));
        this._emitState(config.name);
      }
    }
    this._emitForwards();
  }

  list(): IClusterStatus[] {
    return [...this._entries.keys()].map(name => this.status(name));
  }

  status(name: string): IClusterStatus {
    const entry = this._entry(name);
    const { config, transport } = entry;
    const forwardsOpen = entry.forwards.size;
    if (transport instanceof LocalTransport) {
      return {
        name,
        transport: 'local',
        state: 'connected',
        target: 'this computer',
        route: [],
        error: null,
        since: this._since.get(name) ?? Date.now(),
        nextAttemptAt: null,
        attempt: 0,
        activeCommands: 0,
        queuedCommands: 0,
        openForwards: forwardsOpen
      };
    }
    const info = transport.info;
    const route = transport.route.length
      ? transport.route
      : this._routeLabels(config);
    return {
      name,
      transport: 'ssh',
      state: info.state,
      target: route.length
        ? route[route.length - 1] +
          (route.length > 1 ? ` via ${route.slice(0, -1).join(', ')}` : '')
        : describeCluster(config),
      route,
      error: info.error,
      since: this._since.get(name) ?? Date.now(),
      nextAttemptAt: info.nextAttemptAt,
      attempt: info.attempt,
      activeCommands: transport.activeCommands,
      queuedCommands: transport.queuedCommands,
      openForwards: forwardsOpen
    };
  }

  transport(name: string): ITransport {
    return this._entry(name).transport;
  }

  /** The settings a cluster was configured with. */
  config(name: string): IClusterConfig {
    return this._entry(name).config;
  }

  async connect(name: string): Promise<IClusterStatus> {
    const { transport } = this._entry(name);
    if (transport instanceof SshConnection) {
      await transport.connect();
    }
    return this.status(name);
  }

  disconnect(name: string): IClusterStatus {
    const entry = this._entry(name);
    for (const id of [...entry.forwards.keys()]) {
      void this.closeForward(id);
    }
    if (entry.transport instanceof SshConnection) {
      entry.transport.disconnect();
    }
    return this.status(name);
  }

  run(
    name: string,
    command: IRemoteCommand,
    options?: ICommandOptions
  ): Promise<ICommandOutput> {
    return this._entry(name).transport.run(command, options);
  }

  async test(name: string): Promise<IConnectionTest> {
    const { transport } = this._entry(name);
    const started = performance.now();
    let connectMs = 0;
    if (
      transport instanceof SshConnection &&
      transport.info.state !== 'connected'
    ) {
      await transport.connect();
      connectMs = performance.now() - started;
    }
    const rtts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await transport.run({ argv: ['true'] });
      rtts.push(performance.now() - t0);
    }
    rtts.sort((a, b) => a - b);
    const found = await probeLoginEnvironment(command =>
      transport.run(command)
    );
    return {
      rttMs: Math.round(rtts[2] * 100) / 100,
      connectMs: Math.round(connectMs),
      sshClient: transport instanceof SshConnection ? transport.client : null,
      ...found,
      status: this.status(name)
    };
  }

  forwards(): IForward[] {
    const all: IForward[] = [];
    for (const entry of this._entries.values()) {
      for (const f of entry.forwards.values()) {
        all.push(this._forwardInfo(f.info, f.forward));
      }
    }
    return all;
  }

  async openForward(name: string, request: IForwardRequest): Promise<IForward> {
    const entry = this._entry(name);
    const { transport } = entry;
    if (transport instanceof SshConnection) {
      // Fail now (and ask for 2FA now) rather than on the first browser request.
      await transport.connect();
    }
    const forward =
      transport instanceof SshConnection && transport.forwardsNatively
        ? await transport.forward(
            request.remoteHost,
            request.remotePort,
            request.localPort || 0
          )
        : await LocalForward.listen({
            localPort: request.localPort || 0,
            open: () =>
              transport.openStream(request.remoteHost, request.remotePort),
            onChange: () => this._emitForwards()
          });
    const id = `f${nextForwardId++}`;
    const info: IForward = {
      id,
      cluster: name,
      remoteHost: request.remoteHost,
      remotePort: request.remotePort,
      localPort: forward.localPort,
      openConnections: 0,
      totalConnections: 0
    };
    const release =
      transport instanceof SshConnection ? transport.hold() : () => undefined;
    entry.forwards.set(id, { forward, info, release });
    this._emitForwards();
    this._emitState(name);
    return this._forwardInfo(info, forward);
  }

  async closeForward(id: string): Promise<boolean> {
    for (const [name, entry] of this._entries) {
      const f = entry.forwards.get(id);
      if (f) {
        entry.forwards.delete(id);
        f.release();
        await f.forward.close();
        this._emitForwards();
        this._emitState(name);
        return true;
      }
    }
    return false;
  }

  /**
   * ssh-keygen + ssh-copy-id: make (or reuse) a key, install its public key
   * through the cluster's connection (which logs in with whatever works,
   * asking for a password or code), then prove a key-only login works.
   */
  async setupKey(
    name: string,
    request: IKeySetupRequest
  ): Promise<IKeySetupResult> {
    const entry = this._entry(name);
    if (!(entry.transport instanceof SshConnection)) {
      throw new SidecarError(
        'key-setup-failed',
        `${name} runs on this computer; it needs no SSH key.`
      );
    }
    const keyPath = expandHome(
      request.keyPath || `~/.ssh/id_ed25519_${name}`,
      this._home
    );
    const key = await ensureKeyPair({
      path: keyPath,
      passphrase: request.passphrase || undefined,
      comment: `jupyterlab-hpc ${userInfo().username}@${name}`,
      home: this._home
    });
    const out = await entry.transport.run(
      installKeyCommand(key.publicKeyLine),
      {
        maxOutputBytes: 64 * 1024
      }
    );
    const installed = parseInstallResult(out) === 'installed';
    // A separate, key-only connection: no agent, no other key, no prompt.
    const route = this._route(entry.config, keyPath);
    const last = route[route.length - 1];
    last.identityFiles = [keyPath];
    last.identitiesOnly = true;
    let verified = false;
    try {
      const open = await openRoute(route, {
        prompter: this._options.prompts.for(name),
        keys: this._keys,
        home: this._home,
        agent: undefined,
        interactive: false,
        env: this._env
      });
      open.close();
      verified = true;
    } catch {
      verified = false;
    }
    return {
      keyPath: key.keyPath,
      created: key.created,
      installed,
      fingerprint: key.fingerprint,
      verified
    };
  }

  sshHosts(): ISshHosts {
    const shown = '~/.ssh/config';
    let aliases: string[] = [];
    try {
      aliases = listHostAliases({
        home: this._home,
        localUser: userInfo().username
      });
    } catch (err) {
      return {
        aliases: [],
        configPath: shown,
        error: {
          code: 'ssh-config',
          message: (err as Error).message
        }
      };
    }
    let error: ISshHosts['error'] = null;
    const out: ISshHostAlias[] = aliases.map(alias => {
      try {
        const host = resolveHost(alias, this._resolveOptions());
        return {
          alias,
          hostName: host.hostName,
          user: host.user,
          port: host.port,
          via: host.proxyJump.length
            ? host.proxyJump.map(h => h.host).join(', ')
            : (host.proxyCommandText ?? '')
        };
      } catch (err) {
        error ??= { code: 'ssh-config', message: (err as Error).message };
        return { alias, hostName: null, user: null, port: null, via: '' };
      }
    });
    return { aliases: out, configPath: shown, error };
  }

  async close(): Promise<void> {
    const entries = [...this._entries.values()];
    this._entries.clear();
    await Promise.all(entries.map(e => this._closeEntry(e)));
    this._askpass.close();
  }

  private _create(config: IClusterConfig): IEntry {
    this._since.set(config.name, Date.now());
    const transport =
      config.transport === 'local'
        ? new LocalTransport({ env: this._env })
        : new SshConnection({
            resolve: () => this._route(config),
            prompter: this._options.prompts.for(config.name),
            keys: this._keys,
            home: this._home,
            agent: this._env.SSH_AUTH_SOCK || undefined,
            env: this._env,
            askpass: this._askpass,
            client: sshClientFor(config),
            onForwardLost: spec =>
              this._dropForward(config.name, spec.localPort),
            onState: () => {
              this._since.set(config.name, Date.now());
              this._emitState(config.name);
            }
          });
    return { config, transport, forwards: new Map() };
  }

  private async _closeEntry(entry: IEntry): Promise<void> {
    for (const f of entry.forwards.values()) {
      f.release();
      await f.forward.close();
    }
    entry.forwards.clear();
    await entry.transport.close();
  }

  private _resolveOptions(): IResolveOptions {
    return {
      home: this._home,
      localUser: userInfo().username,
      env: this._env
    };
  }

  private _route(
    config: IClusterConfig,
    identityFile?: string
  ): IResolvedHost[] {
    try {
      return resolveRoute(config.host, {
        ...this._resolveOptions(),
        overrides: {
          port: config.port ?? null,
          user: config.user || undefined,
          identityFile: identityFile ?? (config.identityFile || undefined),
          jumpHost: config.jumpHost || undefined
        }
      });
    } catch (err) {
      if (err instanceof SshConfigError) {
        throw new SidecarError('ssh-config', err.message);
      }
      throw err;
    }
  }

  private _routeLabels(config: IClusterConfig): string[] {
    try {
      return this._route(config).map(hostLabel);
    } catch {
      return [];
    }
  }

  private _entry(name: string): IEntry {
    const entry = this._entries.get(name);
    if (!entry) {
      throw new SidecarError(
        'unknown-cluster',
        `There is no cluster named "${name}". Add it in the HPC settings first.`
      );
    }
    return entry;
  }

  /** A forward its connection could not keep: no longer listed. */
  private _dropForward(name: string, localPort: number): void {
    const entry = this._entries.get(name);
    for (const [id, f] of entry?.forwards ?? []) {
      if (f.info.localPort === localPort) {
        entry!.forwards.delete(id);
        f.release();
      }
    }
    this._emitForwards();
    this._emitState(name);
  }

  private _forwardInfo(
    info: IForward,
    forward: LocalForward | INativeForward
  ): IForward {
    // OpenSSH does not tell how many connections its forwards carry.
    return forward instanceof LocalForward
      ? {
          ...info,
          openConnections: forward.openConnections,
          totalConnections: forward.totalConnections
        }
      : { ...info, openConnections: null, totalConnections: null };
  }

  private _emitState(name: string): void {
    if (this._entries.has(name)) {
      this._options.broadcast({
        type: 'cluster-state',
        cluster: this.status(name)
      });
    }
  }

  private _emitForwards(): void {
    this._options.broadcast({ type: 'forwards', forwards: this.forwards() });
  }

  private readonly _home: string;
  private readonly _env: NodeJS.ProcessEnv;
  private readonly _keys = new KeyCache();
  private readonly _askpass = new AskpassBridge();
  private _entries = new Map<string, IEntry>();
  private _since = new Map<string, number>();
}

function expandHome(path: string, home: string): string {
  if (path === '~') {
    return home;
  }
  return path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

let opensshUsable: boolean | null = null;

/**
 * The SSH client a cluster's connection uses. 'auto' is OpenSSH when this
 * computer's `ssh` is OpenSSH 8.4 or later (SSH_ASKPASS_REQUIRE, which
 * routes every question to JupyterLab) and can multiplex: not on Windows,
 * whose OpenSSH has no ControlMaster. Else the built-in client.
 */
export function sshClientFor(config: IClusterConfig): SshClientKind {
  if (config.sshClient === 'openssh' || config.sshClient === 'builtin') {
    return config.sshClient;
  }
  if (opensshUsable === null) {
    const run =
      process.platform === 'win32'
        ? null
        : spawnSync('ssh', ['-V'], { encoding: 'utf8', timeout: 5000 });
    opensshUsable =
      run !== null && run.status === 0 && opensshCanAskpass(run.stderr);
  }
  return opensshUsable ? 'openssh' : 'builtin';
}

/** Whether `ssh -V` names OpenSSH 8.4 or later. */
export function opensshCanAskpass(version: string): boolean {
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(version);
  return !!m && (Number(m[1]) > 8 || (Number(m[1]) === 8 && Number(m[2]) >= 4));
}

/**
 * The clusters the user configured, one handle each (its transport, its
 * forwards, its state), and the actions the API offers on them: connect,
 * test, run, forward, key setup. The frontend sends the clusters from
 * JupyterLab's settings (services.ts keeps a copy of the last list for a
 * sidecar started with no page open; see saved-clusters.ts).
 */
import { homedir } from 'os';

import type {
  IClusterStatus,
  IConnectionTest,
  IForward,
  IForwardRequest,
  IKeySetupRequest,
  IKeySetupResult,
  ISshHosts,
  SidecarEvent
} from '../../common/api';
import type { IClusterConfig } from '../../common/settings';
import { SidecarError } from '../errors';
import type { ICommandOutput, IRemoteCommand } from '../shell/remote-command';
import { AskpassBridge } from '../ssh/askpass';
import { KeyCache } from '../ssh/auth';
import type { ICommandOptions, ITransport } from '../transport/types';
import {
  ClusterHandle,
  createClusterHandle,
  IClusterHandleContext
} from './handle';
import { PromptBroker } from './prompts';
import type { ILocalAccount } from './route';
import { listSshHosts } from './ssh-hosts';
import { probeLoginEnvironment } from './test-connection';

export interface IClusterManagerOptions {
  broadcast: (event: SidecarEvent) => void;
  prompts: PromptBroker;
  /** The local user's home (for ~/.ssh); $HOME by default. */
  home?: string;
  env?: NodeJS.ProcessEnv;
}

export class ClusterManager {
  constructor(private readonly _options: IClusterManagerOptions) {
    this._account = {
      home: _options.home ?? process.env.HOME ?? homedir(),
      env: _options.env ?? process.env
    };
    this._context = {
      account: this._account,
      prompts: _options.prompts,
      keys: new KeyCache(),
      askpass: this._askpass,
      onState: name => this._emitState(name),
      onForwards: () => this._emitForwards()
    };
  }

  /** Replace the configured clusters; changed or removed ones are closed. */
  async setClusters(configs: IClusterConfig[]): Promise<void> {
    const wanted = new Map(configs.map(c => [c.name, c]));
    for (const [name, handle] of [...this._handles]) {
      const next = wanted.get(name);
      if (!next || JSON.stringify(next) !== JSON.stringify(handle.config)) {
        this._handles.delete(name);
        await handle.close();
      }
    }
    for (const config of configs) {
      if (!this._handles.has(config.name)) {
        this._handles.set(
          config.name,
          createClusterHandle(config, this._context)
        );
        this._emitState(config.name);
      }
    }
    this._emitForwards();
  }

  list(): IClusterStatus[] {
    return [...this._handles.values()].map(handle => handle.status());
  }

  status(name: string): IClusterStatus {
    return this._handle(name).status();
  }

  transport(name: string): ITransport {
    return this._handle(name).transport;
  }

  /** The settings a cluster was configured with. */
  config(name: string): IClusterConfig {
    return this._handle(name).config;
  }

  async connect(name: string): Promise<IClusterStatus> {
    const handle = this._handle(name);
    await handle.connect();
    return handle.status();
  }

  disconnect(name: string): IClusterStatus {
    const handle = this._handle(name);
    for (const id of handle.forwards.ids()) {
      void this.closeForward(id);
    }
    handle.disconnect();
    return handle.status();
  }

  run(
    name: string,
    command: IRemoteCommand,
    options?: ICommandOptions
  ): Promise<ICommandOutput> {
    return this._handle(name).transport.run(command, options);
  }

  async test(name: string): Promise<IConnectionTest> {
    const handle = this._handle(name);
    const { transport } = handle;
    const connectMs = await handle.connect();
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
      sshClient: handle.sshClient,
      ...found,
      status: handle.status()
    };
  }

  forwards(): IForward[] {
    return [...this._handles.values()].flatMap(h => h.forwards.list());
  }

  async openForward(name: string, request: IForwardRequest): Promise<IForward> {
    const forward = await this._handle(name).openForward(request);
    this._emitForwards();
    this._emitState(name);
    return forward;
  }

  async closeForward(id: string): Promise<boolean> {
    for (const [name, handle] of this._handles) {
      const f = handle.forwards.take(id);
      if (f) {
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
  setupKey(name: string, request: IKeySetupRequest): Promise<IKeySetupResult> {
    return this._handle(name).setupKey(request);
  }

  /** The Host aliases of ~/.ssh/config, for the "Add cluster" dialog. */
  sshHosts(): ISshHosts {
    return listSshHosts(this._account);
  }

  async close(): Promise<void> {
    const handles = [...this._handles.values()];
    this._handles.clear();
    await Promise.all(handles.map(h => h.close()));
    this._askpass.close();
  }

  private _handle(name: string): ClusterHandle {
    const handle = this._handles.get(name);
    if (!handle) {
      throw new SidecarError(
        'unknown-cluster',
        `There is no cluster named "${name}". Add it in the HPC settings first.`
      );
    }
    return handle;
  }

  private _emitState(name: string): void {
    const handle = this._handles.get(name);
    if (handle) {
      this._options.broadcast({
        type: 'cluster-state',
        cluster: handle.status()
      });
    }
  }

  private _emitForwards(): void {
    this._options.broadcast({ type: 'forwards', forwards: this.forwards() });
  }

  private readonly _account: ILocalAccount;
  private readonly _askpass = new AskpassBridge();
  private readonly _context: IClusterHandleContext;
  private readonly _handles = new Map<string, ClusterHandle>();
}

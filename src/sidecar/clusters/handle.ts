/**
 * One configured cluster: its settings, its transport (an SSH connection or
 * this computer), the forwards made through it and its state. What differs
 * between the two kinds of transport is said here, once, by the two
 * subclasses; the manager treats every cluster alike.
 */
import type {
  IClusterStatus,
  IForward,
  IForwardRequest,
  IKeySetupRequest,
  IKeySetupResult
} from '../../common/api';
import { describeCluster, IClusterConfig } from '../../common/settings';
import { SidecarError } from '../errors';
import { LocalForward } from '../forwards/local-forward';
import { ClusterForwards, ForwardChannel } from '../forwards/registry';
import type { AskpassBridge } from '../ssh/askpass';
import type { KeyCache } from '../ssh/auth';
import type { IResolvedHost } from '../ssh/config';
import { hostLabel } from '../ssh/connect';
import { SshClientKind, SshConnection } from '../ssh/connection';
import { LocalTransport } from '../transport/local';
import type { ITransport } from '../transport/types';
import { setupKey } from './key-setup';
import type { PromptBroker } from './prompts';
import { clusterRoute, ILocalAccount } from './route';
import { defaultIdentityFilesFor, sshClientFor } from './ssh-client';

/** What every cluster handle shares with the manager. */
export interface IClusterHandleContext {
  account: ILocalAccount;
  prompts: PromptBroker;
  keys: KeyCache;
  askpass: AskpassBridge;
  /** The cluster's state changed: its status is to be sent out. */
  onState: (name: string) => void;
  /** Its forwards changed on their own (connections, a lost forward). */
  onForwards: () => void;
}

export abstract class ClusterHandle {
  constructor(
    readonly config: IClusterConfig,
    protected readonly context: IClusterHandleContext
  ) {
    this.forwards = new ClusterForwards(config.name);
  }

  get name(): string {
    return this.config.name;
  }

  abstract readonly transport: ITransport;

  /** The SSH client that carries the cluster; null for this computer. */
  abstract readonly sshClient: SshClientKind | null;

  readonly forwards: ClusterForwards;

  abstract status(): IClusterStatus;

  /** Connect unless connected; the milliseconds it took (0 if it was). */
  abstract connect(): Promise<number>;

  /** Close the connection (not the forwards: the manager closes those). */
  abstract disconnect(): void;

  /** Open a forward to `remoteHost:remotePort` as seen from the cluster. */
  async openForward(request: IForwardRequest): Promise<IForward> {
    const { forward, release } = await this.openChannel(request);
    return this.forwards.add(request, forward, release);
  }

  abstract setupKey(request: IKeySetupRequest): Promise<IKeySetupResult>;

  /** Close the forwards, then the transport. */
  async close(): Promise<void> {
    for (const f of this.forwards.takeAll()) {
      f.release();
      await f.forward.close();
    }
    await this.transport.close();
  }

  protected abstract openChannel(
    request: IForwardRequest
  ): Promise<{ forward: ForwardChannel; release: () => void }>;

  /** A forward whose connections Node carries over `transport`. */
  protected listenLocally(request: IForwardRequest): Promise<LocalForward> {
    return LocalForward.listen({
      localPort: request.localPort || 0,
      open: () =>
        this.transport.openStream(request.remoteHost, request.remotePort),
      onChange: () => this.context.onForwards()
    });
  }

  /** When the state last changed. */
  protected since = Date.now();
}

/** A cluster reached over SSH, with OpenSSH or the built-in client. */
class SshClusterHandle extends ClusterHandle {
  constructor(config: IClusterConfig, context: IClusterHandleContext) {
    super(config, context);
    const client = sshClientFor(config);
    this.transport = new SshConnection({
      resolve: () => this.route(),
      prompter: context.prompts.for(config.name),
      keys: context.keys,
      home: context.account.home,
      agent: context.account.env.SSH_AUTH_SOCK || undefined,
      env: context.account.env,
      askpass: context.askpass,
      client,
      onForwardLost: spec => this.dropForward(spec.localPort),
      onState: () => {
        this.since = Date.now();
        context.onState(config.name);
      }
    });
  }

  readonly transport: SshConnection;

  get sshClient(): SshClientKind {
    return this.transport.client;
  }

  status(): IClusterStatus {
    const { transport } = this;
    const info = transport.info;
    const route = transport.route.length ? transport.route : this.routeLabels();
    return {
      name: this.name,
      transport: 'ssh',
      state: info.state,
      target: route.length
        ? route[route.length - 1] +
          (route.length > 1 ? ` via ${route.slice(0, -1).join(', ')}` : '')
        : describeCluster(this.config),
      route,
      error: info.error,
      since: this.since,
      nextAttemptAt: info.nextAttemptAt,
      attempt: info.attempt,
      activeCommands: transport.activeCommands,
      queuedCommands: transport.queuedCommands,
      openForwards: this.forwards.size
    };
  }

  async connect(): Promise<number> {
    if (this.transport.info.state === 'connected') {
      return 0;
    }
    const started = performance.now();
    await this.transport.connect();
    return performance.now() - started;
  }

  disconnect(): void {
    this.transport.disconnect();
  }

  setupKey(request: IKeySetupRequest): Promise<IKeySetupResult> {
    return setupKey(
      {
        config: this.config,
        connection: this.transport,
        account: this.context.account,
        prompter: this.context.prompts.for(this.name),
        keys: this.context.keys
      },
      request
    );
  }

  protected async openChannel(
    request: IForwardRequest
  ): Promise<{ forward: ForwardChannel; release: () => void }> {
    // Fail now (and ask for 2FA now) rather than on the first browser request.
    await this.transport.connect();
    const forward = this.transport.forwardsNatively
      ? await this.transport.forward(
          request.remoteHost,
          request.remotePort,
          request.localPort || 0
        )
      : await this.listenLocally(request);
    return { forward, release: this.transport.hold() };
  }

  /** Resolved anew on every attempt: the ssh config may have changed. */
  private route(
    defaultIdentityFiles = defaultIdentityFilesFor(this.transport.client)
  ): IResolvedHost[] {
    return clusterRoute(
      this.config,
      this.context.account,
      defaultIdentityFiles
    );
  }

  private routeLabels(): string[] {
    try {
      // Labels need no keys: no `ssh -G` for the status of a new cluster.
      return this.route([]).map(hostLabel);
    } catch {
      return [];
    }
  }

  /** A forward the connection could not keep: no longer listed. */
  private dropForward(localPort: number): void {
    for (const f of this.forwards.takeLocalPort(localPort)) {
      f.release();
    }
    this.context.onForwards();
    this.context.onState(this.name);
  }
}

/** A cluster whose login node is this computer (`transport: 'local'`). */
class LocalClusterHandle extends ClusterHandle {
  readonly transport = new LocalTransport({ env: this.context.account.env });

  readonly sshClient = null;

  status(): IClusterStatus {
    return {
      name: this.name,
      transport: 'local',
      state: 'connected',
      target: 'this computer',
      route: [],
      error: null,
      since: this.since,
      nextAttemptAt: null,
      attempt: 0,
      activeCommands: 0,
      queuedCommands: 0,
      openForwards: this.forwards.size
    };
  }

  async connect(): Promise<number> {
    return 0;
  }

  disconnect(): void {
    // Nothing to close: commands run as child processes of the sidecar.
  }

  async setupKey(): Promise<IKeySetupResult> {
    throw new SidecarError(
      'key-setup-failed',
      `${this.name} runs on this computer; it needs no SSH key.`
    );
  }

  protected async openChannel(
    request: IForwardRequest
  ): Promise<{ forward: ForwardChannel; release: () => void }> {
    return {
      forward: await this.listenLocally(request),
      release: () => undefined
    };
  }
}

/** The handle for a configured cluster, by its `transport` setting. */
export function createClusterHandle(
  config: IClusterConfig,
  context: IClusterHandleContext
): ClusterHandle {
  return config.transport === 'local'
    ? new LocalClusterHandle(config, context)
    : new SshClusterHandle(config, context);
}

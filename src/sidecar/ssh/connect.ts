/**
 * Opening one SSH connection along a resolved route: the first host over TCP
 * (or through its ProxyCommand, a real child process whose stdio carries the
 * connection), every next host through a direct-tcpip channel of the one
 * before, as `ssh -J` does. Each hop's host key is checked against
 * known_hosts and each hop authenticates on its own (auth.ts).
 */
import { ChildProcess, spawn } from 'child_process';
import { connect as netConnect, Socket } from 'net';
import { Duplex } from 'stream';

import {
  AnyAuthMethod,
  AuthenticationType,
  Client,
  ClientChannel,
  ConnectConfig
} from 'ssh2';

import { SidecarError } from '../errors';
import { authFailureMessage, createAuthHandler, KeyCache } from './auth';
import type { IResolvedHost } from './config';
import {
  appendKnownHost,
  checkHostKey,
  hostKeyError,
  HostKeyError,
  knownHostKeyTypes,
  unknownHostPrompt
} from './known-hosts';
import type { AskpassBridge } from './askpass';
import type { IPrompter } from './prompter';
import { coalesceWrites } from './coalesce-writes';
import {
  DEFAULT_CONNECT_TIMEOUT_SECONDS,
  DEFAULT_KEEPALIVE_SECONDS
} from './defaults';

/** Stderr of a ProxyCommand kept for the error message. */
const PROXY_STDERR_BYTES = 4096;

export interface IConnectOptions {
  prompter: IPrompter;
  keys: KeyCache;
  home: string;
  /** SSH_AUTH_SOCK. */
  agent?: string;
  /** False on automatic reconnects that must not ask anything but 2FA. */
  interactive: boolean;
  /** Environment for ProxyCommand children. */
  env?: NodeJS.ProcessEnv;
  /** Routes the questions of an ssh in a ProxyCommand to `prompter`. */
  askpass?: AskpassBridge;
  signal?: AbortSignal;
  /** Called when a hop is up, for the state shown to the user. */
  onHop?: (index: number, host: IResolvedHost) => void;
}

/** A live connection: the last client is the cluster's login node. */
export interface IOpenConnection {
  client: Client;
  clients: Client[];
  proxy: ChildProcess | null;
  /** Close every hop, last first. */
  close(): void;
}

export function hostLabel(host: IResolvedHost): string {
  const port = host.port === 22 ? '' : `:${host.port}`;
  return `${host.user}@${host.hostName}${port}`;
}

/** Open the whole route; closes what was opened if any hop fails. */
export async function openRoute(
  route: readonly IResolvedHost[],
  options: IConnectOptions
): Promise<IOpenConnection> {
  const clients: Client[] = [];
  let proxy: ChildProcess | null = null;
  const close = () => {
    for (const c of [...clients].reverse()) {
      c.end();
    }
    if (proxy && proxy.exitCode === null && proxy.signalCode === null) {
      proxy.kill('SIGTERM');
    }
  };
  try {
    for (let i = 0; i < route.length; i++) {
      const host = route[i];
      let sock: Duplex;
      if (i === 0) {
        if (host.proxyCommand) {
          const started = await startProxyCommand(host, options);
          proxy = started.child;
          sock = started.sock;
        } else {
          sock = await tcpConnect(host, options.signal);
        }
      } else {
        sock = await forwardThrough(clients[i - 1], route[i - 1], host);
      }
      clients.push(await handshake(host, sock, options));
      options.onHop?.(i, host);
    }
  } catch (err) {
    close();
    throw err;
  }
  return { client: clients[clients.length - 1], clients, proxy, close };
}

function connectTimeoutMs(host: IResolvedHost): number {
  return (host.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_SECONDS) * 1000;
}

function tcpConnect(
  host: IResolvedHost,
  signal?: AbortSignal
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: host.hostName, port: host.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new SidecarError(
          'connect-timeout',
          `No answer from ${host.hostName} port ${host.port} within ${connectTimeoutMs(host) / 1000} s. ` +
            'Check the host name and your network (VPN?), or raise ConnectTimeout in ~/.ssh/config.'
        )
      );
    }, connectTimeoutMs(host));
    const onAbort = () => {
      socket.destroy();
      clearTimeout(timer);
      reject(new SidecarError('disconnected', 'Connecting was stopped.'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 60_000);
      resolve(socket);
    });
    socket.once('error', err => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      reject(socketError(host, err as NodeJS.ErrnoException));
    });
  });
}

function socketError(
  host: IResolvedHost,
  err: NodeJS.ErrnoException
): SidecarError {
  const where = `${host.hostName} port ${host.port}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return new SidecarError(
        'unreachable',
        `${where} refused the connection: no SSH server listens there. Check the host name and port.`,
        { cause: err }
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new SidecarError(
        'unreachable',
        `Could not resolve the host name ${host.hostName}${host.alias !== host.hostName ? ` (for ${host.alias})` : ''}. ` +
          'Check the spelling, your ~/.ssh/config and your network (VPN?).',
        { cause: err }
      );
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new SidecarError(
        'unreachable',
        `${where} cannot be reached from this computer (${err.code}). It may only be reachable through a gateway (ProxyJump) or a VPN.`,
        { cause: err }
      );
    case 'ETIMEDOUT':
      return new SidecarError(
        'connect-timeout',
        `Connecting to ${where} timed out.`,
        { cause: err }
      );
    default:
      return new SidecarError(
        'unreachable',
        `Could not connect to ${where}: ${err.message}`,
        { cause: err }
      );
  }
}

async function startProxyCommand(
  host: IResolvedHost,
  options: IConnectOptions
): Promise<{ child: ChildProcess; sock: Duplex }> {
  const argv = host.proxyCommand!;
  const askpass = options.interactive
    ? await options.askpass?.envFor(options.prompter)
    : undefined;
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...(options.env ?? process.env), ...askpass }
  });
  if (askpass) {
    child.on('exit', () => options.askpass!.release(askpass));
  }
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-PROXY_STDERR_BYTES);
  });
  const sock = Duplex.from({ readable: child.stdout!, writable: child.stdin! });
  // Errors of the pipes surface as the ssh2 client's; keep them off the
  // process's unhandled 'error'.
  sock.on('error', () => undefined);
  child.on('error', () => undefined);
  // The pipes alone do not tell ssh2 that the command is gone. Its last
  // words on stderr may still be in flight: give them a moment.
  child.on('exit', () => setTimeout(() => sock.destroy(), 50));
  (sock as Duplex & { proxyFailure?: () => SidecarError }).proxyFailure =
    () => {
      const how =
        child.exitCode !== null
          ? `exited with status ${child.exitCode}`
          : child.signalCode
            ? `was killed by ${child.signalCode}`
            : 'closed its output';
      const said = stderr.trim() ? `: ${stderr.trim()}` : '';
      return new SidecarError(
        'proxy-command-failed',
        `The ProxyCommand for ${host.alias} (${host.proxyCommandText}) ${how}${said}`
      );
    };
  return { child, sock };
}

function forwardThrough(
  via: Client,
  viaHost: IResolvedHost,
  host: IResolvedHost
): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    via.forwardOut('127.0.0.1', 0, host.hostName, host.port, (err, ch) => {
      if (err) {
        reject(
          new SidecarError(
            'unreachable',
            `The jump host ${viaHost.alias} could not connect to ${host.hostName} port ${host.port}: ${err.message}. ` +
              'Check the host name as the jump host sees it, and that the jump host allows TCP forwarding.',
            { cause: err }
          )
        );
        return;
      }
      resolve(ch);
    });
  });
}

/** Key exchange, host key check and login for one hop. */
async function handshake(
  host: IResolvedHost,
  sock: Duplex,
  options: IConnectOptions
): Promise<Client> {
  const label = hostLabel(host);
  const knownTypes = await knownHostKeyTypes({
    host: host.hostName,
    port: host.port,
    hostKeyAlias: host.hostKeyAlias ?? undefined,
    files: host.userKnownHostsFiles,
    globalFiles: host.globalKnownHostsFiles
  }).catch(() => [] as string[]);
  const auth = createAuthHandler({
    user: host.user,
    label,
    identityFiles: host.identityFiles,
    identitiesOnly: host.identitiesOnly,
    agent: options.agent,
    interactive: options.interactive,
    prompter: options.prompter,
    keys: options.keys,
    home: options.home,
    signal: options.signal
  });
  let hostKeyFailure: Error | null = null;
  let authStarted = false;

  const verify = async (key: Buffer): Promise<boolean> => {
    const query = {
      host: host.hostName,
      port: host.port,
      key,
      hostKeyAlias: host.hostKeyAlias ?? undefined,
      files: host.userKnownHostsFiles,
      globalFiles: host.globalKnownHostsFiles
    };
    const result = await checkHostKey(query);
    if (result.status === 'known') {
      return true;
    }
    if (result.status !== 'unknown') {
      throw hostKeyError(result, { home: options.home });
    }
    if (
      host.strictHostKeyChecking === 'yes' ||
      !options.interactive ||
      host.userKnownHostsFiles.length === 0
    ) {
      throw hostKeyError(result, { home: options.home });
    }
    if (host.strictHostKeyChecking !== 'accept-new') {
      const answer = await options.prompter.ask(
        {
          kind: 'host-key',
          title: `Unknown host key for ${host.alias}`,
          instructions:
            'Compare the fingerprint with the one your cluster publishes before you trust it.',
          fields: [],
          hostKey: {
            host: result.name,
            keyType: result.offered.displayType,
            fingerprint: result.fingerprint,
            message: unknownHostPrompt(result)
          }
        },
        options.signal
      );
      if (answer[0] !== 'yes') {
        throw new SidecarError(
          'host-key-rejected',
          `The host key of ${host.alias} (${result.fingerprint}) was not accepted; not connecting.`
        );
      }
    }
    await appendKnownHost(
      host.userKnownHostsFiles[0],
      host.hostName,
      host.port,
      result.offered.keyType,
      key,
      { hash: false, hostKeyAlias: host.hostKeyAlias ?? undefined }
    );
    return true;
  };

  const client = new Client();
  return new Promise<Client>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      client.end();
      sock.destroy();
      reject(err);
    };
    // Until authentication starts the server alone is slow; after it the
    // user may be reading a prompt, which has its own expiry.
    const timer = setTimeout(() => {
      if (!authStarted) {
        fail(
          new SidecarError(
            'connect-timeout',
            `${label} did not complete the SSH handshake within ${connectTimeoutMs(host) / 1000} s.`
          )
        );
      }
    }, connectTimeoutMs(host));
    const onAbort = () =>
      fail(new SidecarError('disconnected', 'Connecting was stopped.'));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    client.once('ready', () => {
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      client.setNoDelay(true);
      resolve(client);
    });
    client.on('error', (err: Error & { level?: string }) => {
      if (hostKeyFailure) {
        fail(hostKeyFailure);
      } else if (auth.report.cancelled) {
        fail(auth.report.cancelled);
      } else if (err.level === 'client-authentication') {
        fail(
          new SidecarError(
            'auth-failed',
            authFailureMessage(label, auth.report)
          )
        );
      } else if (authStarted && auth.report.tried.length > 0) {
        // The server hung up during login ("Too many authentication
        // failures" after MaxAuthTries).
        fail(
          new SidecarError(
            'auth-failed',
            `${authFailureMessage(label, auth.report)} (The server said: ${err.message})`
          )
        );
      } else {
        const proxy = (sock as { proxyFailure?: () => SidecarError })
          .proxyFailure;
        fail(
          proxy && !authStarted
            ? proxy()
            : new SidecarError(
                'connection-lost',
                `The connection to ${label} failed: ${err.message}`,
                { cause: err }
              )
        );
      }
    });
    // The stream may be gone before ssh2 listens to it (a ProxyCommand that
    // exits at once): watch it ourselves until the login completes.
    const onSockGone = () => {
      const proxy = (sock as { proxyFailure?: () => SidecarError })
        .proxyFailure;
      fail(
        hostKeyFailure ??
          auth.report.cancelled ??
          (proxy
            ? proxy()
            : new SidecarError(
                'connection-lost',
                `${label} closed the connection during login.`
              ))
      );
    };
    client.once('close', onSockGone);
    if (sock.destroyed) {
      onSockGone();
      return;
    }
    sock.once('close', onSockGone);
    client.once('ready', () => sock.off('close', onSockGone));

    coalesceWrites(sock);
    client.connect({
      sock: sock as unknown as Socket,
      username: host.user,
      readyTimeout: 0,
      keepaliveInterval:
        (host.serverAliveInterval || DEFAULT_KEEPALIVE_SECONDS) * 1000,
      keepaliveCountMax: host.serverAliveCountMax,
      algorithms: knownTypes.length
        ? { serverHostKey: preferKnown(knownTypes) }
        : undefined,
      hostVerifier: (key: Buffer, callback: (ok: boolean) => void) => {
        verify(key).then(callback, (err: Error) => {
          hostKeyFailure =
            err instanceof HostKeyError
              ? new SidecarError(err.code, err.message)
              : err;
          callback(false);
        });
      },
      authHandler: (
        methodsLeft: AuthenticationType[] | null,
        partialSuccess: boolean | null,
        next: (method: AnyAuthMethod | false) => void
      ) => {
        authStarted = true;
        auth.handler(methodsLeft, partialSuccess, next);
      }
    } as unknown as ConnectConfig);
  });
}

/** ssh2's default host key algorithms, those already known for the host first. */
function preferKnown(known: string[]): string[] {
  const all = [
    'ssh-ed25519',
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
    'rsa-sha2-512',
    'rsa-sha2-256',
    'ssh-rsa'
  ];
  const first = all.filter(a =>
    known.some(k => k === a || (k === 'ssh-rsa' && a.startsWith('rsa-sha2')))
  );
  return [...first, ...all.filter(a => !first.includes(a))];
}

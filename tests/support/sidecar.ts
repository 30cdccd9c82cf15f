/**
 * The real sidecar (the bundle setup.sh builds) started on its own, with a
 * HOME of the test's making, and a client for its API and events over the
 * unix socket — what jupyter-server-proxy does, minus the proxy.
 */
import { ChildProcess, spawn } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'fs';
import { request as httpRequest } from 'http';
import { tmpdir } from 'os';
import { join, resolve } from 'path';

import WebSocket from 'ws';

import type { IPrompt, SidecarEvent } from '../../src/common/api';
import type { SshClientSetting } from '../../src/common/settings';

export const SIDECAR_JS = resolve(
  __dirname,
  '..',
  '..',
  'jupyterlab_hpc',
  'sidecar',
  'sidecar.js'
);

// Tests read answers loosely (`body.error.code`) unless they name a type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface IApiAnswer<T = any> {
  status: number;
  body: T;
}

export interface ISidecar {
  home: string;
  socket: string;
  child: ChildProcess;
  /** Everything the sidecar wrote to stderr so far. */
  log(): string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  api<T = any>(
    method: string,
    path: string,
    body?: unknown
  ): Promise<IApiAnswer<T>>;
  /** Every event received since start. */
  events: SidecarEvent[];
  /** Resolves with the first event (past or future) that matches. */
  waitForEvent<T extends SidecarEvent>(
    match: (e: SidecarEvent) => e is T,
    timeoutMs?: number
  ): Promise<T>;
  waitForPrompt(
    match?: (p: IPrompt) => boolean,
    timeoutMs?: number
  ): Promise<IPrompt>;
  answer(id: string, answers: string[] | 'cancel'): Promise<IApiAnswer>;
  stop(): Promise<void>;
}

export function makeHome(prefix = 'jlhpc-home-'): string {
  const home = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  return home;
}

/** The SSH clients a connection can use; suites run once with each. */
export const SSH_CLIENTS: SshClientSetting[] = ['openssh', 'builtin'];

function withSshClient(
  method: string,
  path: string,
  body: unknown,
  client?: SshClientSetting
): unknown {
  if (!client || method !== 'PUT' || path !== '/api/v1/clusters') {
    return body;
  }
  const { clusters } = body as { clusters?: unknown };
  if (!Array.isArray(clusters)) {
    return body;
  }
  return {
    ...(body as object),
    clusters: clusters.map(c =>
      typeof c === 'object' && c !== null && !('sshClient' in c)
        ? { ...c, sshClient: client }
        : c
    )
  };
}

export async function startSidecar(
  options: {
    home?: string;
    env?: NodeJS.ProcessEnv;
    /** Give every cluster PUT through `api` this SSH client (unless it names one). */
    sshClient?: SshClientSetting;
    /** Run it through this command, e.g. `ip netns exec <ns>` (which execs it). */
    wrap?: string[];
  } = {}
): Promise<ISidecar> {
  if (!existsSync(SIDECAR_JS)) {
    throw new Error(`${SIDECAR_JS} is missing: run scripts/setup.sh first`);
  }
  const home = options.home ?? makeHome();
  const dir = mkdtempSync(join(tmpdir(), 'jlhpc-sock-'));
  const socket = join(dir, 'sidecar.sock');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    JUPYTERLAB_HPC_LOG_LEVEL: 'debug',
    ...options.env
  };
  const argv = [
    ...(options.wrap ?? []),
    process.execPath,
    SIDECAR_JS,
    '--socket',
    socket
  ];
  const child = spawn(argv[0], argv.slice(1), {
    env,
    stdio: ['ignore', 'ignore', 'pipe']
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));

  const api = <T>(method: string, path: string, body?: unknown) =>
    new Promise<IApiAnswer<T>>((resolveAnswer, reject) => {
      const data =
        body === undefined
          ? undefined
          : JSON.stringify(
              withSshClient(method, path, body, options.sshClient)
            );
      const req = httpRequest(
        {
          socketPath: socket,
          // A connection per request: a kept-alive one that the sidecar
          // closed while a test blocked the event loop (spawnSync) fails
          // the next request with EPIPE (seen once in the hostile-input suite).
          agent: false,
          path,
          method,
          headers: {
            'X-Jupyterlab-Hpc': '1',
            ...(data
              ? {
                  'Content-Type': 'application/json',
                  'Content-Length': Buffer.byteLength(data)
                }
              : {})
          }
        },
        res => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', c => (text += c));
          res.on('end', () =>
            resolveAnswer({
              status: res.statusCode ?? 0,
              body: text ? JSON.parse(text) : null
            })
          );
        }
      );
      req.on('error', reject);
      req.end(data);
    });

  // Wait until it answers.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await api('GET', '/api/v1/health');
      if (r.status === 200) {
        break;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      throw new Error(`the sidecar did not start:\n${stderr}`);
    }
    await new Promise(r => setTimeout(r, 50));
  }

  const events: SidecarEvent[] = [];
  const listeners = new Set<() => void>();
  const ws = new WebSocket(`ws+unix://${socket}:/api/v1/events`);
  ws.on('message', data => {
    events.push(JSON.parse(String(data)));
    for (const l of [...listeners]) {
      l();
    }
  });
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });

  const waitForEvent = <T extends SidecarEvent>(
    match: (e: SidecarEvent) => e is T,
    timeoutMs = 30_000
  ) =>
    new Promise<T>((res, rej) => {
      const check = () => {
        const hit = events.find(match);
        if (hit) {
          listeners.delete(check);
          clearTimeout(timer);
          res(hit);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        rej(
          new Error(`no matching event within ${timeoutMs} ms; log:\n${stderr}`)
        );
      }, timeoutMs);
      listeners.add(check);
      check();
    });

  const answered = new Set<string>();
  const sidecar: ISidecar = {
    home,
    socket,
    child,
    log: () => stderr,
    api,
    events,
    waitForEvent,
    waitForPrompt: async (match = () => true, timeoutMs = 30_000) => {
      const e = await waitForEvent(
        (ev): ev is Extract<SidecarEvent, { type: 'prompt' }> =>
          ev.type === 'prompt' &&
          !answered.has(ev.prompt.id) &&
          match(ev.prompt),
        timeoutMs
      );
      answered.add(e.prompt.id);
      return e.prompt;
    },
    answer: (id, answers) =>
      api(
        'POST',
        `/api/v1/prompts/${id}`,
        answers === 'cancel' ? { cancel: true } : { answers }
      ),
    stop: async () => {
      ws.terminate();
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise(r => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
      if (!options.home) {
        rmSync(home, { recursive: true, force: true });
      }
    }
  };
  return sidecar;
}

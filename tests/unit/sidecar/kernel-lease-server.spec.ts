/**
 * The sidecar server's side of kernel leases: the WebSocket upgrade of
 * Routes.kernelLease (only for the provisioner: no Origin, our header) and
 * the kernel-start routes.
 */
import { promises as fs } from 'fs';
import { request } from 'http';
import { tmpdir } from 'os';
import { join } from 'path';

import WebSocket from 'ws';

import {
  REQUEST_HEADER,
  Routes,
  type IKernelStartInfo
} from '../../../src/common/api';
import { kernelStartRoutes } from '../../../src/sidecar/api/kernel-start-routes';
import {
  createSidecarServer,
  type ISidecarServer,
  type ISidecarServerOptions
} from '../../../src/sidecar/api/server';
import { createLogger } from '../../../src/sidecar/log';

let dir: string;
let socketPath: string;
let server: ISidecarServer;
let logLines: string[];
let accepted: WebSocket[];
let clients: WebSocket[];

async function start(options: Partial<ISidecarServerOptions> = {}) {
  logLines = [];
  accepted = [];
  server = createSidecarServer({
    version: '0.0.0',
    log: createLogger('debug', line => logLines.push(line)),
    kernelLeases: async () => ({
      accept: ws => {
        accepted.push(ws);
        ws.send(JSON.stringify({ type: 'hello' }));
      }
    }),
    ...options
  });
  await new Promise<void>((resolve, reject) => {
    server.http.once('error', reject);
    server.http.listen(socketPath, resolve);
  });
}

beforeEach(async () => {
  clients = [];
  dir = await fs.mkdtemp(join(tmpdir(), 'hpc-lease-server-'));
  socketPath = join(dir, 'sidecar.sock');
});

afterEach(async () => {
  clients.forEach(ws => ws.terminate());
  accepted.forEach(ws => ws.terminate());
  await server?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const leaseUrl = () => `ws+unix://${socketPath}:${Routes.kernelLease}`;

/** The handshake's status: 101 when accepted. */
function handshake(headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(leaseUrl(), { headers });
    clients.push(ws);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode!);
      ws.terminate();
    });
    ws.on('open', () => resolve(101));
    ws.on('error', reject);
  });
}

function send(
  method: string,
  path: string,
  headers: Record<string, string> = {}
) {
  return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const req = request(
      { socketPath, method, path, headers, agent: false },
      res => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', c => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: JSON.parse(text) })
        );
      }
    );
    req.on('error', reject);
    req.end();
  });
}

describe('the kernel lease WebSocket', () => {
  it('is handed to the kernel leases when the provisioner asks (no Origin, our header)', async () => {
    await start();
    const ws = new WebSocket(leaseUrl(), {
      headers: { [REQUEST_HEADER]: '1' }
    });
    clients.push(ws);
    const first = await new Promise<string>((resolve, reject) => {
      ws.on('message', data => resolve(String(data)));
      ws.on('error', reject);
    });
    expect(JSON.parse(first)).toEqual({ type: 'hello' });
    expect(accepted).toHaveLength(1);
  });

  it('refuses any Origin, even the sidecar host itself: browsers always send one', async () => {
    await start();
    expect(
      await handshake({
        [REQUEST_HEADER]: '1',
        Origin: 'http://localhost',
        Host: 'localhost'
      })
    ).toBe(403);
    expect(
      await handshake({ [REQUEST_HEADER]: '1', Origin: 'https://evil.example' })
    ).toBe(403);
    expect(accepted).toEqual([]);
    expect(
      logLines.some(l => l.includes('kernel-lease') && l.includes('Origin'))
    ).toBe(true);
  });

  it('refuses a handshake without the X-Jupyterlab-Hpc header', async () => {
    await start();
    expect(await handshake({})).toBe(403);
    expect(accepted).toEqual([]);
  });

  it('is not found in a server without kernel leases', async () => {
    await start({ kernelLeases: undefined });
    expect(await handshake({ [REQUEST_HEADER]: '1' })).toBe(404);
  });

  it('still takes event sockets as before, and refuses the lease path for them', async () => {
    await start();
    expect(
      await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`ws+unix://${socketPath}:${Routes.events}`);
        clients.push(ws);
        ws.on('open', () => resolve(101));
        ws.on('unexpected-response', (_q, res) => resolve(res.statusCode!));
        ws.on('error', reject);
      })
    ).toBe(101);
    expect(accepted).toEqual([]);
  });
});

describe('the kernel start routes', () => {
  const START: IKernelStartInfo = {
    kernelId: 'k1',
    profile: 'abcd1234',
    specName: 'hpc-abcd1234',
    notebookPath: 'a.ipynb',
    state: 'queued',
    allocationId: null,
    jobId: '12',
    reason: 'Priority',
    estimatedStart: null,
    message: null,
    restart: false,
    at: 1
  };
  const cancelled: string[] = [];

  beforeEach(() =>
    start({
      routes: kernelStartRoutes({
        starts: () => [START],
        cancel: id => {
          cancelled.push(id);
          return id === 'k1';
        }
      })
    })
  );

  it('lists the starts in progress', async () => {
    expect(await send('GET', Routes.kernelStarts)).toEqual({
      status: 200,
      body: { starts: [START] }
    });
  });

  it('cancels a start, and answers 404 for one that is not starting', async () => {
    expect(
      await send('POST', Routes.kernelStartCancel('k1'), {
        [REQUEST_HEADER]: '1'
      })
    ).toEqual({ status: 200, body: { cancelled: true } });
    const gone = await send('POST', Routes.kernelStartCancel('k9'), {
      [REQUEST_HEADER]: '1'
    });
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({
      error: { code: 'kernel-start-not-found' }
    });
    expect(cancelled).toEqual(['k1', 'k9']);
  });

  it('refuses a cancel without the request header (cross-site form post)', async () => {
    expect((await send('POST', Routes.kernelStartCancel('k1'))).status).toBe(
      403
    );
  });
});

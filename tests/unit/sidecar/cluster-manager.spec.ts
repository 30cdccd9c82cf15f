/*
 * The cluster manager over real handles: a cluster whose transport is this
 * computer (real processes, real TCP forwards to a local echo server) and
 * an SSH cluster that is never connected. SSH connections themselves are
 * covered by tests/integration/connections.test.ts.
 */
import { createConnection, createServer, Server } from 'net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import type { IForwardsEvent, SidecarEvent } from '../../../src/common/api';
import { ClusterManager } from '../../../src/sidecar/clusters/manager';
import { PromptBroker } from '../../../src/sidecar/clusters/prompts';

let home: string;
let echo: Server;
let echoPort: number;
let events: SidecarEvent[];
let manager: ClusterManager;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'jlhpc-cluster-manager-'));
  echo = createServer(socket => socket.pipe(socket));
  await new Promise<void>(resolve => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise(resolve => echo.close(resolve));
  rmSync(home, { recursive: true, force: true });
});

beforeEach(async () => {
  events = [];
  const broadcast = (event: SidecarEvent) => events.push(event);
  manager = new ClusterManager({
    broadcast,
    prompts: new PromptBroker(broadcast),
    home,
    env: { HOME: home, PATH: '/usr/bin:/bin', SHELL: '/bin/sh' }
  });
  await manager.setClusters([
    { name: 'here', host: 'localhost', transport: 'local' },
    { name: 'far', host: 'login.example.org', port: 2222, user: 'ana' }
  ]);
});

afterEach(() => manager.close());

/** One round trip through a forward's local port. */
function roundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(port, '127.0.0.1', () =>
      socket.write(text)
    );
    socket.once('data', data => {
      resolve(data.toString('utf8'));
      socket.end();
    });
    socket.once('error', reject);
  });
}

function lastForwards(): IForwardsEvent['forwards'] {
  const all = events.filter((e): e is IForwardsEvent => e.type === 'forwards');
  return all[all.length - 1].forwards;
}

it('tells each cluster apart by its transport, without connecting', () => {
  const [here, far] = manager.list();
  expect(here).toMatchObject({
    name: 'here',
    transport: 'local',
    state: 'connected',
    target: 'this computer',
    openForwards: 0
  });
  expect(far).toMatchObject({
    name: 'far',
    transport: 'ssh',
    state: 'idle',
    target: 'ana@login.example.org:2222',
    openForwards: 0
  });
  expect(
    events.filter(e => e.type === 'cluster-state').map(e => e.cluster.name)
  ).toEqual(['here', 'far']);
});

it('runs, tests and connects a local cluster as it is', async () => {
  await expect(manager.connect('here')).resolves.toMatchObject({
    state: 'connected'
  });
  const out = await manager.run('here', { argv: ['echo', 'hi'] });
  expect(out.stdout.toString('utf8')).toBe('hi\n');
  const test = await manager.test('here');
  expect(test.sshClient).toBeNull();
  expect(test.connectMs).toBe(0);
});

it('forwards through a local cluster, counts connections, closes on disconnect', async () => {
  const forward = await manager.openForward('here', {
    remoteHost: '127.0.0.1',
    remotePort: echoPort
  });
  expect(forward).toMatchObject({ id: expect.stringMatching(/^f\d+$/) });
  expect(manager.status('here').openForwards).toBe(1);
  await expect(roundTrip(forward.localPort, 'ping')).resolves.toBe('ping');
  expect(manager.forwards()).toEqual([
    expect.objectContaining({ id: forward.id, totalConnections: 1 })
  ]);

  manager.disconnect('here');
  await new Promise(resolve => setImmediate(resolve));
  expect(manager.forwards()).toEqual([]);
  expect(lastForwards()).toEqual([]);
  expect(manager.status('here').openForwards).toBe(0);
  await expect(manager.closeForward(forward.id)).resolves.toBe(false);
});

it('closes one forward by id, whichever cluster holds it', async () => {
  const a = await manager.openForward('here', {
    remoteHost: '127.0.0.1',
    remotePort: echoPort
  });
  const b = await manager.openForward('here', {
    remoteHost: '127.0.0.1',
    remotePort: echoPort
  });
  expect(a.id).not.toBe(b.id);
  await expect(manager.closeForward(a.id)).resolves.toBe(true);
  expect(manager.forwards().map(f => f.id)).toEqual([b.id]);
  expect(lastForwards().map(f => f.id)).toEqual([b.id]);
});

it('closes the forwards of a cluster whose settings change', async () => {
  await manager.openForward('here', {
    remoteHost: '127.0.0.1',
    remotePort: echoPort
  });
  await manager.setClusters([
    { name: 'here', host: 'localhost', transport: 'local', user: 'x' }
  ]);
  expect(manager.forwards()).toEqual([]);
  expect(manager.list().map(c => c.name)).toEqual(['here']);
});

it('refuses key setup for a local cluster and names unknown clusters', async () => {
  await expect(manager.setupKey('here', {})).rejects.toMatchObject({
    code: 'key-setup-failed'
  });
  expect(() => manager.status('nowhere')).toThrow(
    expect.objectContaining({ code: 'unknown-cluster' })
  );
});

it('lists the Host aliases of ~/.ssh/config, resolved, and shows a config error', () => {
  mkdirSync(join(home, '.ssh'), { recursive: true });
  writeFileSync(
    join(home, '.ssh', 'config'),
    'Host alpha\n  HostName a.example.org\n  User u\n  ProxyJump gw\nHost *.x\n'
  );
  expect(manager.sshHosts()).toEqual({
    aliases: [
      {
        alias: 'alpha',
        hostName: 'a.example.org',
        user: 'u',
        port: 22,
        via: 'gw'
      }
    ],
    configPath: '~/.ssh/config',
    error: null
  });
  writeFileSync(join(home, '.ssh', 'config'), 'Host alpha\n  Port x\n');
  expect(manager.sshHosts()).toMatchObject({
    aliases: [{ alias: 'alpha', hostName: null }],
    error: { code: 'ssh-config', message: expect.stringContaining('Port') }
  });
  rmSync(join(home, '.ssh'), { recursive: true });
});

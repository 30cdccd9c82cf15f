/**
 * A network namespace of the test's own (the laptop) whose only way to the
 * login node is a veth pair, and a packet filter in it that can drop the
 * login node's traffic and let it through again: an outage that looks, to
 * the SSH client in the namespace, like a real one (no RST, no FIN, no ICMP;
 * packets vanish and TCP retransmits), and that touches nobody else's
 * connection. The demo sshd listens on the host's 127.0.0.1 only, so a relay
 * on the host's end of the veth carries the login node's port to it; the
 * drop rule is in the namespace, between the SSH client and that relay.
 *
 * Chosen over a black-holing TCP relay because the kernel then does what it
 * does in a real outage (retransmission back-off, SYNs that get no answer
 * during reconnect attempts), which is what the keepalives and the reconnect
 * loop must cope with.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import { connect, createServer, type Server, type Socket } from 'net';

const NS = 'jlhpc-fconn';
const HOST_IF = 'jlhpc-fconn0';
const NET = '10.239.7';
const HOST_ADDR = `${NET}.1`;
const NS_ADDR = `${NET}.2`;
const TABLE = 'jlhpc_fconn';

function sh(argv: string[], input?: string): void {
  execFileSync(argv[0], argv.slice(1), {
    input,
    stdio: ['pipe', 'ignore', 'pipe']
  });
}

function relay(
  listenHost: string,
  targetPort: number,
  targetHost = '127.0.0.1'
): Promise<{ server: Server; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer(client => {
    const upstream = connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const close = () =>
    new Promise<void>(resolve => {
      sockets.forEach(s => s.destroy());
      server.close(() => resolve());
    });
  return new Promise(resolve =>
    server.listen(0, listenHost, () => resolve({ server, close }))
  );
}

// Run inside the namespace: relays <ns address>:<free port> to 127.0.0.1:<port>.
const NS_RELAY = `
const net = require('net');
const [host, target] = process.argv.slice(1);
const server = net.createServer(c => {
  const u = net.connect(Number(target), '127.0.0.1');
  c.on('error', () => {}); u.on('error', () => {});
  c.pipe(u); u.pipe(c);
  c.on('close', () => u.destroy()); u.on('close', () => c.destroy());
});
server.listen(0, host, () => console.log(server.address().port));
`;

export interface IExposedPort {
  host: string;
  port: number;
  close(): void;
}

export interface ILoginOutage {
  /** Prefix that runs a command inside the namespace. */
  wrap: string[];
  /** The login node as seen from inside the namespace. */
  loginHost: string;
  loginPort: number;
  /** Drop every packet between the namespace and the login node. */
  block(): void;
  unblock(): void;
  /** Reach a port of the namespace's 127.0.0.1 (a forward) from here. */
  expose(port: number): Promise<IExposedPort>;
  destroy(): Promise<void>;
}

function removeNamespace(): void {
  // Deleting the namespace deletes its veth end, and so the host's.
  try {
    sh(['ip', 'netns', 'del', NS]);
  } catch {
    // not there
  }
}

export async function makeLoginOutage(sshdPort: number): Promise<ILoginOutage> {
  removeNamespace(); // a run that died half-way
  sh(['ip', 'netns', 'add', NS]);
  sh([
    'ip',
    'link',
    'add',
    HOST_IF,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    NS
  ]);
  sh(['ip', 'addr', 'add', `${HOST_ADDR}/30`, 'dev', HOST_IF]);
  sh(['ip', 'link', 'set', HOST_IF, 'up']);
  sh(['ip', '-n', NS, 'addr', 'add', `${NS_ADDR}/30`, 'dev', 'eth0']);
  sh(['ip', '-n', NS, 'link', 'set', 'eth0', 'up']);
  sh(['ip', '-n', NS, 'link', 'set', 'lo', 'up']);
  const login = await relay(HOST_ADDR, sshdPort);
  const loginPort = (login.server.address() as { port: number }).port;
  const wrap = ['ip', 'netns', 'exec', NS];
  const nft = (script: string) => sh([...wrap, 'nft', '-f', '-'], script);
  nft(
    `table inet ${TABLE} {\n` +
      `  chain out { type filter hook output priority 0; }\n` +
      `  chain in { type filter hook input priority 0; }\n` +
      `}\n`
  );
  const relays = new Set<ChildProcess>();
  return {
    wrap,
    loginHost: HOST_ADDR,
    loginPort,
    block: () =>
      nft(
        `add rule inet ${TABLE} out ip daddr ${HOST_ADDR} tcp dport ${loginPort} drop\n` +
          `add rule inet ${TABLE} in ip saddr ${HOST_ADDR} tcp sport ${loginPort} drop\n`
      ),
    unblock: () =>
      nft(`flush chain inet ${TABLE} out\nflush chain inet ${TABLE} in\n`),
    expose: port =>
      new Promise((resolve, reject) => {
        const child = spawn(
          wrap[0],
          [
            ...wrap.slice(1),
            process.execPath,
            '-e',
            NS_RELAY,
            NS_ADDR,
            String(port)
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] }
        );
        relays.add(child);
        child.once('error', reject);
        child.stdout!.once('data', (d: Buffer) =>
          resolve({
            host: NS_ADDR,
            port: Number(String(d).trim()),
            close: () => {
              relays.delete(child);
              child.kill();
            }
          })
        );
      }),
    destroy: async () => {
      relays.forEach(c => c.kill());
      await login.close();
      removeNamespace();
    }
  };
}

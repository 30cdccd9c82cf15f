/** A TCP relay in front of a server, whose connections a test can cut. */
import { connect, createServer, Server, Socket } from 'net';

export interface ITcpProxy {
  port: number;
  /** Connections relayed so far. */
  accepted: number;
  /** While true, new connections are closed at once (the server is down). */
  refusing: boolean;
  /** Cut every relayed connection, as a network outage would. */
  cutAll(): void;
  close(): Promise<void>;
}

export function startTcpProxy(
  targetPort: number,
  targetHost = '127.0.0.1'
): Promise<ITcpProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer(client => {
    if (proxy.refusing) {
      client.destroy();
      return;
    }
    proxy.accepted++;
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
  const proxy: ITcpProxy = {
    port: 0,
    accepted: 0,
    refusing: false,
    cutAll: () => {
      for (const s of sockets) {
        s.destroy();
      }
    },
    close: () =>
      new Promise(resolve => {
        proxy.cutAll();
        server.close(() => resolve());
      })
  };
  return new Promise(resolve =>
    server.listen(0, '127.0.0.1', () => {
      proxy.port = (server.address() as { port: number }).port;
      resolve(proxy);
    })
  );
}

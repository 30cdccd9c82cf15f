// A TCP proxy that adds network latency: every chunk is held for `delayMs`
// before it is passed on, in each direction, in order. `tc netem` is not
// available in these kernels (FACTS.md), so the `ssh` section puts this in
// front of sshd to look like a cluster 2 x delayMs away.
//
// In-process:  const p = await startDelayProxy({ targetPort: 2222, delayMs: 10 });
//              ... p.port ...; await p.close();
// As a process (keeps the proxy's timers off a busy event loop):
//              node bench/lib/delay-proxy.mjs <targetHost> <targetPort> <delayMs>
//              prints `{"port":N}` on stdout once listening; stops on SIGTERM.
import { createServer, connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { firstJsonLine } from './process.mjs';

// Past this many bytes held in one direction (read but not yet written out
// and drained) the reading side is paused. Far above what a bench moves
// through the proxy in one delay period, so it caps nothing we measure; it
// only keeps a runaway sender from filling memory.
const MAX_HELD_BYTES = 64 * 1024 * 1024;

/**
 * Pipe `from` into `to`, each chunk `delayMs` after it arrived. One timer per
 * direction: the queue is ordered by arrival, so it is ordered by due time.
 */
function delayedPipe(from, to, delayMs, onDone) {
  if (delayMs <= 0) {
    from.pipe(to);
    from.on('end', onDone);
    return { cancel: () => {} };
  }
  const queue = [];
  let held = 0;
  let timer = null;
  let ended = false;

  const flush = () => {
    timer = null;
    const now = performance.now();
    while (queue.length && queue[0].due <= now + 0.5) {
      const item = queue.shift();
      if (item.end) {
        to.end();
        onDone();
        return;
      }
      held -= item.chunk.length;
      to.write(item.chunk);
    }
    if (from.isPaused() && held + to.writableLength < MAX_HELD_BYTES) {
      from.resume();
    }
    arm();
  };
  const arm = () => {
    if (timer === null && queue.length) {
      timer = setTimeout(flush, Math.max(0, queue[0].due - performance.now()));
    }
  };
  from.on('data', chunk => {
    queue.push({ due: performance.now() + delayMs, chunk });
    held += chunk.length;
    if (held + to.writableLength >= MAX_HELD_BYTES) {
      from.pause();
    }
    arm();
  });
  to.on('drain', () => {
    if (from.isPaused() && held + to.writableLength < MAX_HELD_BYTES) {
      from.resume();
    }
  });
  from.on('end', () => {
    if (!ended) {
      ended = true;
      queue.push({ due: performance.now() + delayMs, end: true });
      arm();
    }
  });
  return {
    cancel: () => {
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
      queue.length = 0;
    }
  };
}

/**
 * Listen on `host`:0 (127.0.0.1 by default) and forward every connection to
 * targetHost:targetPort, delaying each direction by `delayMs`. Resolves with
 * { port, close() }; close() stops listening and cuts open connections.
 * TCP_NODELAY is set on both sides, so the proxy adds no Nagle delay of its
 * own; a connection is accepted and opened upstream at once (the upstream
 * SYN is not delayed, the bytes are: the first round trip a client sees is
 * its first data exchange, as with a real network round trip).
 */
export function startDelayProxy({
  targetHost = '127.0.0.1',
  targetPort,
  delayMs,
  host = '127.0.0.1'
}) {
  const sockets = new Set();
  const server = createServer({ noDelay: true }, client => {
    client.setNoDelay(true);
    const upstream = connect({
      host: targetHost,
      port: targetPort,
      noDelay: true
    });
    upstream.setNoDelay(true);
    sockets.add(client);
    sockets.add(upstream);
    let halves = 0;
    const pipes = [];
    const done = () => {
      if (++halves === 2) {
        client.destroy();
        upstream.destroy();
      }
    };
    pipes.push(delayedPipe(client, upstream, delayMs, done));
    pipes.push(delayedPipe(upstream, client, delayMs, done));
    const teardown = () => {
      for (const p of pipes) {
        p.cancel();
      }
      client.destroy();
      upstream.destroy();
    };
    // An error (a reset) is not delayed: a real network would also drop
    // what is in flight.
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve({
        port: server.address().port,
        close: () =>
          new Promise(done => {
            for (const s of sockets) {
              s.destroy();
            }
            server.close(() => done());
          })
      });
    });
  });
}

/**
 * Start the proxy as a child process (`node delay-proxy.mjs …`) with
 * ctx.spawn, so the runner stops it if the section fails. Resolves with
 * { port, child, close() }.
 */
export async function spawnDelayProxy(
  ctx,
  { targetHost = '127.0.0.1', targetPort, delayMs, node = process.execPath }
) {
  const child = ctx.spawn(
    node,
    [
      fileURLToPath(import.meta.url),
      targetHost,
      String(targetPort),
      String(delayMs)
    ],
    {
      label: `delay proxy (${delayMs} ms) to ${targetHost}:${targetPort}`,
      stdio: ['ignore', 'pipe', 'pipe']
    }
  );
  const { port } = await firstJsonLine(child);
  return { port, child, close: () => ctx.stop(child) };
}

/**
 * Median round trip, in ms, of `count` one-byte ping-pongs through a fresh
 * delay proxy of `delayMs` to an in-process echo server: what one network
 * round trip costs through the proxy (2 x delayMs plus timer slack).
 */
export async function measureProxyRtt(ctx, { delayMs, count = 20, node }) {
  const echo = createServer({ noDelay: true }, s => {
    s.setNoDelay(true);
    s.pipe(s);
  });
  await new Promise(r => echo.listen(0, '127.0.0.1', r));
  const proxy = await spawnDelayProxy(ctx, {
    targetPort: echo.address().port,
    delayMs,
    node
  });
  const sock = connect({ port: proxy.port, host: '127.0.0.1', noDelay: true });
  try {
    await new Promise((r, j) => sock.once('connect', r).once('error', j));
    const samples = [];
    let failed = null;
    sock.on('error', err => (failed = err));
    for (let i = 0; i < count + 2; i++) {
      const t0 = performance.now();
      await new Promise(r => {
        sock.once('data', r);
        sock.write('x');
      });
      if (failed) {
        throw failed;
      }
      if (i >= 2) {
        samples.push(performance.now() - t0);
      }
    }
    samples.sort((a, b) => a - b);
    return samples[Math.floor(samples.length / 2)];
  } finally {
    sock.destroy();
    await proxy.close();
    await new Promise(r => echo.close(r));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [targetHost, targetPort, delayMs] = process.argv.slice(2);
  if (!targetHost || !Number(targetPort) || !(Number(delayMs) >= 0)) {
    process.stderr.write(
      'usage: node delay-proxy.mjs <targetHost> <targetPort> <delayMs>\n'
    );
    process.exit(2);
  }
  const proxy = await startDelayProxy({
    targetHost,
    targetPort: Number(targetPort),
    delayMs: Number(delayMs)
  });
  process.stdout.write(`${JSON.stringify({ port: proxy.port })}\n`);
  const stop = () => proxy.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// The HTTP server the `tunnel` section reaches three ways. Run as its own
// process, so neither the runner nor the client shares its event loop:
//
//   node bench/lib/http-target.mjs      prints {"port":N} once listening on 127.0.0.1
//
//   GET /bytes/<n>   n bytes (zeros from one reused 1 MiB buffer, Content-Length
//                    set, written as fast as the connection drains)
//   GET /tiny        "ok\n", keep-alive
import { createServer } from 'node:http';

const CHUNK = Buffer.alloc(1024 * 1024);

const server = createServer((req, res) => {
  if (req.url === '/tiny') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 3 });
    res.end('ok\n');
    return;
  }
  const m = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
  if (!m) {
    res.writeHead(404, { 'Content-Length': 0 });
    res.end();
    return;
  }
  let left = Number(m[1]);
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': left
  });
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      const more = res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      if (!more) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
});
server.on('connection', s => s.setNoDelay(true));
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));

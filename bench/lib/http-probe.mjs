// The HTTP client of the `tunnel` section, in a process of its own (apart
// from the server, the sidecar and the runner). A minimal HTTP/1.1 client on
// plain sockets, so its own cost stays far below what it measures. Reads one
// JSON command per line on stdin, answers one JSON line on stdout:
//
//   {"op":"download","port":P,"bytes":N}
//       GET /bytes/N on a new connection (Connection: close);
//       answers {"bytes": received body bytes, "ms": request sent to last byte}
//   {"op":"rtt","port":P,"count":N}
//       N sequential GET /tiny on one keep-alive connection per port (kept
//       between commands); answers {"us":[each round trip], "connections": opened so far}
//
// Errors answer {"error": "..."}.
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

const HEADER_END = Buffer.from('\r\n\r\n');

function contentLength(head) {
  const status = /^HTTP\/1\.1 (\d+)/.exec(head);
  if (!status || status[1] !== '200') {
    throw new Error(`answer: ${head.split('\r\n')[0]}`);
  }
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (!m) {
    throw new Error('answer without Content-Length');
  }
  return Number(m[1]);
}

function download(port, bytes) {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, noDelay: true });
    let head = Buffer.alloc(0);
    let expected = -1;
    let body = 0;
    let t0 = 0;
    sock.once('connect', () => {
      t0 = performance.now();
      sock.write(
        `GET /bytes/${bytes} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`
      );
    });
    sock.on('data', chunk => {
      if (expected < 0) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf(HEADER_END);
        if (end < 0) {
          return;
        }
        try {
          expected = contentLength(head.subarray(0, end).toString('latin1'));
        } catch (err) {
          sock.destroy();
          reject(err);
          return;
        }
        body = head.length - end - 4;
      } else {
        body += chunk.length;
      }
      if (body >= expected) {
        const ms = performance.now() - t0;
        sock.destroy();
        resolve({ bytes: body, ms });
      }
    });
    sock.on('error', reject);
    sock.on('close', () => reject(new Error(`closed after ${body} bytes`)));
  });
}

const REQUEST = Buffer.from(
  'GET /tiny HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n'
);
const keepAlive = new Map();
let opened = 0;

function keepAliveSocket(port) {
  let s = keepAlive.get(port);
  if (s && !s.destroyed) {
    return Promise.resolve(s);
  }
  return new Promise((resolve, reject) => {
    s = connect({ host: '127.0.0.1', port, noDelay: true });
    s.once('connect', () => {
      opened++;
      keepAlive.set(port, s);
      resolve(s);
    });
    s.once('error', reject);
  });
}

function oneRequest(sock) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = chunk => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const end = buf.indexOf(HEADER_END);
      if (end < 0) {
        return;
      }
      let len;
      try {
        len = contentLength(buf.subarray(0, end).toString('latin1'));
      } catch (err) {
        done(err);
        return;
      }
      if (buf.length >= end + 4 + len) {
        done(null);
      }
    };
    const onEnd = () => done(new Error('the connection closed mid-answer'));
    const done = err => {
      sock.off('data', onData);
      sock.off('error', done);
      sock.off('close', onEnd);
      if (err) {
        reject(err);
      } else {
        resolve();
      }
    };
    sock.on('data', onData);
    sock.on('error', done);
    sock.on('close', onEnd);
    sock.write(REQUEST);
  });
}

async function rtt(port, count) {
  const sock = await keepAliveSocket(port);
  const us = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await oneRequest(sock);
    us.push((performance.now() - t0) * 1000);
  }
  return { us, connections: opened };
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) {
    continue;
  }
  let answer;
  try {
    const cmd = JSON.parse(line);
    if (cmd.op === 'download') {
      answer = await download(cmd.port, cmd.bytes);
    } else if (cmd.op === 'rtt') {
      answer = await rtt(cmd.port, cmd.count);
    } else {
      throw new Error(`unknown op ${cmd.op}`);
    }
  } catch (err) {
    answer = { error: err.message };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
for (const s of keepAlive.values()) {
  s.destroy();
}

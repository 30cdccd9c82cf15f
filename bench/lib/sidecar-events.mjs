// The sidecar's event stream (Routes.events, a WebSocket on its unix
// socket), read with a minimal client of our own: the bench uses built-in
// modules only, and Node 20 has no WebSocket client. Enough of RFC 6455 for
// this stream: text frames from the server (unmasked, maybe fragmented),
// pings answered with pongs (the sidecar drops a client that does not
// answer), close.
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

const EVENTS = '/api/v1/events';

/** A client frame: FIN set, masked as RFC 6455 requires. */
function clientFrame(opcode, payload = Buffer.alloc(0)) {
  const mask = randomBytes(4);
  const head =
    payload.length < 126
      ? Buffer.from([0x80 | opcode, 0x80 | payload.length])
      : Buffer.from([
          0x80 | opcode,
          0x80 | 126,
          payload.length >> 8,
          payload.length & 255
        ]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) {
    body[i] ^= mask[i % 4];
  }
  return Buffer.concat([head, mask, body]);
}

/**
 * Connect to the events of the sidecar listening on `socketPath`. Resolves
 * once the handshake is done with { waitFor(match, timeoutMs), close() }.
 * Every event is kept with `at` (performance.now() when its frame was
 * complete); waitFor resolves with the first kept one that `match`es,
 * including those that came before it was called.
 */
export function openEvents(socketPath) {
  return new Promise((resolve, reject) => {
    const req = request({
      socketPath,
      path: EVENTS,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64')
      }
    });
    req.once('response', res =>
      reject(
        new Error(`GET ${EVENTS} answered ${res.statusCode}, not an upgrade`)
      )
    );
    req.once('error', reject);
    req.once('upgrade', (_res, socket, head) => {
      socket.setNoDelay(true);
      const events = [];
      const waiters = new Set();
      let buf = head;
      let fragments = [];
      let closed = false;
      const deliver = event => {
        events.push(event);
        for (const w of [...waiters]) {
          if (w.match(event)) {
            waiters.delete(w);
            clearTimeout(w.timer);
            w.resolve(event);
          }
        }
      };
      const fail = err => {
        closed = true;
        for (const w of waiters) {
          clearTimeout(w.timer);
          w.reject(err);
        }
        waiters.clear();
      };
      const parse = () => {
        for (;;) {
          if (buf.length < 2) {
            return;
          }
          const fin = (buf[0] & 0x80) !== 0;
          const opcode = buf[0] & 0x0f;
          let len = buf[1] & 0x7f;
          let off = 2;
          if (len === 126) {
            if (buf.length < 4) {
              return;
            }
            len = buf.readUInt16BE(2);
            off = 4;
          } else if (len === 127) {
            if (buf.length < 10) {
              return;
            }
            len = Number(buf.readBigUInt64BE(2));
            off = 10;
          }
          if (buf.length < off + len) {
            return;
          }
          const payload = buf.subarray(off, off + len);
          buf = buf.subarray(off + len);
          if (opcode === 0x9) {
            socket.write(clientFrame(0xa, payload));
          } else if (opcode === 0x8) {
            fail(new Error('the sidecar closed its event stream'));
            socket.end(clientFrame(0x8));
          } else if (opcode === 0x1 || opcode === 0x0) {
            fragments.push(Buffer.from(payload));
            if (fin) {
              const text = Buffer.concat(fragments).toString('utf8');
              fragments = [];
              deliver({ at: performance.now(), ...JSON.parse(text) });
            }
          }
        }
      };
      socket.on('data', chunk => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        parse();
      });
      socket.on('close', () => fail(new Error('the event stream closed')));
      socket.on('error', () => undefined);
      parse();
      resolve({
        events,
        waitFor: (match, timeoutMs = 60000) =>
          new Promise((res, rej) => {
            const hit = events.find(match);
            if (hit) {
              res(hit);
              return;
            }
            if (closed) {
              rej(new Error('the event stream is closed'));
              return;
            }
            const w = { match, resolve: res, reject: rej };
            w.timer = setTimeout(() => {
              waiters.delete(w);
              rej(
                new Error(`no matching sidecar event within ${timeoutMs} ms`)
              );
            }, timeoutMs);
            waiters.add(w);
          }),
        close: () => {
          if (!closed) {
            closed = true;
            socket.end(clientFrame(0x8));
          }
          socket.destroy();
        }
      });
    });
    req.end();
  });
}

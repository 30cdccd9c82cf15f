// A Jupyter server's kernel WebSocket (`/api/kernels/<id>/channels`), the
// way JupyterLab talks to a kernel, with a minimal client of our own: the
// bench uses built-in modules only and Node 20 has no WebSocket client.
// Without a subprotocol the server speaks the JSON form of the Jupyter
// protocol in text frames. Enough of RFC 6455 for that: masked client text
// frames, server text frames (maybe fragmented, 16/64-bit lengths), pings
// answered with pongs, close.
import { randomBytes, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

/** A client frame: FIN set, masked as RFC 6455 requires. */
function clientFrame(opcode, payload = Buffer.alloc(0)) {
  const mask = randomBytes(4);
  const len = payload.length;
  let head;
  if (len < 126) {
    head = Buffer.from([0x80 | opcode, 0x80 | len]);
  } else if (len < 65536) {
    head = Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 255]);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) {
    body[i] ^= mask[i % 4];
  }
  return Buffer.concat([head, mask, body]);
}

/**
 * Upgrade `GET url` (http://…) to a WebSocket with the server's token.
 * Resolves with { send(text), close(), closed: Promise } once upgraded;
 * `onText(text, at)` gets every text message, `at` = performance.now()
 * when its last frame arrived.
 */
function connect(url, token, onText) {
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: {
        Authorization: `token ${token}`,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64')
      }
    });
    req.setTimeout(60000, () => req.destroy(new Error('upgrade timed out')));
    req.once('response', res =>
      reject(
        new Error(
          `GET ${url.pathname} answered ${res.statusCode}, not an upgrade`
        )
      )
    );
    req.once('error', reject);
    req.once('upgrade', (_res, socket, head) => {
      req.setTimeout(0);
      socket.setNoDelay(true);
      let buf = head;
      let fragments = [];
      let closed = false;
      let onClose;
      const closedP = new Promise(res => (onClose = res));
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
            closed = true;
            socket.end(clientFrame(0x8));
          } else if (opcode === 0x1 || opcode === 0x0) {
            fragments.push(Buffer.from(payload));
            if (fin) {
              const text = Buffer.concat(fragments).toString('utf8');
              fragments = [];
              onText(text, performance.now());
            }
          }
        }
      };
      socket.on('data', chunk => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        parse();
      });
      socket.on('close', () => {
        closed = true;
        onClose();
      });
      socket.on('error', () => undefined);
      parse();
      resolve({
        isClosed: () => closed,
        closed: closedP,
        send: text => socket.write(clientFrame(0x1, Buffer.from(text))),
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

/**
 * Open the channels of kernel `kernelId` of the server at `baseUrl`
 * (`http://127.0.0.1:<port>/`) with its token. Resolves once upgraded with
 * { kernelInfo(timeoutMs): resolves with performance.now() when the
 * kernel_info_reply arrived, close() }.
 */
export async function openKernelChannels(baseUrl, token, kernelId) {
  const session = randomUUID();
  const url = new URL(
    `api/kernels/${encodeURIComponent(kernelId)}/channels?session_id=${session}`,
    baseUrl
  );
  const waiters = new Map(); // msg_id → {resolve, reject, timer, replyType}
  const ws = await connect(url, token, (text, at) => {
    const msg = JSON.parse(text);
    const w = waiters.get(msg.parent_header?.msg_id);
    if (w && msg.header?.msg_type === w.replyType) {
      waiters.delete(msg.parent_header.msg_id);
      clearTimeout(w.timer);
      w.resolve(at);
    }
  });
  ws.closed.then(() => {
    for (const w of waiters.values()) {
      clearTimeout(w.timer);
      w.reject(new Error('the kernel WebSocket closed'));
    }
    waiters.clear();
  });
  /** Send a request on `channel`; resolves when its `replyType` arrives. */
  const ask = (channel, msgType, replyType, content, timeoutMs) =>
    new Promise((resolve, reject) => {
      if (ws.isClosed()) {
        reject(new Error('the kernel WebSocket is closed'));
        return;
      }
      const msgId = randomUUID();
      const timer = setTimeout(() => {
        waiters.delete(msgId);
        reject(new Error(`no ${replyType} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.set(msgId, { resolve, reject, timer, replyType });
      ws.send(
        JSON.stringify({
          header: {
            msg_id: msgId,
            msg_type: msgType,
            session,
            username: 'bench',
            date: new Date().toISOString(),
            version: '5.3'
          },
          parent_header: {},
          metadata: {},
          content,
          channel,
          buffers: []
        })
      );
    });
  return {
    kernelInfo: (timeoutMs = 60000) =>
      ask('shell', 'kernel_info_request', 'kernel_info_reply', {}, timeoutMs),
    close: ws.close
  };
}

/**
 * The sidecar's events (Routes.events) through the server's proxy at
 * `<baseUrl>jupyterlab-hpc/api/v1/events`. Resolves once upgraded with
 * { events: [{at, ...event}], close() }.
 */
export async function openLabEvents(baseUrl, token) {
  const events = [];
  const ws = await connect(
    new URL('jupyterlab-hpc/api/v1/events', baseUrl),
    token,
    (text, at) => events.push({ at, ...JSON.parse(text) })
  );
  return { events, close: ws.close };
}

import type { IncomingMessage } from 'http';

export class BodyTooLargeError extends Error {}

/**
 * Read a request body whole, up to `limit` bytes. Every request is read to
 * its end before it is answered, refusals included: a proxy still writing
 * the body when we answer and close would get EPIPE and turn our clear 4xx
 * into its own 500.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      // Drained, not kept; refused only at its end, like any other body:
      // refused at once, jupyter-server-proxy (still sending) turned the
      // 413 into its own 500.
      req.on('end', () =>
        reject(new BodyTooLargeError(`body of ${declared} bytes`))
      );
      req.on('error', reject);
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
      } else if (!tooLarge) {
        chunks.push(chunk);
      }
    });
    req.on('end', () =>
      tooLarge
        ? reject(new BodyTooLargeError(`body over ${limit} bytes`))
        : resolve(Buffer.concat(chunks))
    );
    req.on('error', reject);
  });
}

import type { IncomingMessage } from 'http';
import { PassThrough } from 'stream';

import { BodyTooLargeError, readBody } from '../../../src/sidecar/api/body';

/** A request as readBody sees it: a stream of chunks with headers. */
function incoming(
  chunks: string[],
  headers: Record<string, string> = {}
): IncomingMessage {
  const stream = new PassThrough();
  Object.assign(stream, { headers });
  for (const chunk of chunks) {
    stream.write(chunk);
  }
  stream.end();
  return stream as unknown as IncomingMessage;
}

/** The error `promise` rejects with. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => new Error('it resolved'),
    (err: Error) => err
  );
}

describe('readBody', () => {
  it.each([
    ['no body', [], 10, ''],
    ['one chunk', ['{"cluster":"swc"}'], 64, '{"cluster":"swc"}'],
    ['several chunks', ['{"clu', 'ster":', '"swc"}'], 64, '{"cluster":"swc"}'],
    ['a body of exactly the limit', ['01234', '56789'], 10, '0123456789']
  ])('reads %s whole', async (_case, chunks, limit, body) => {
    const buffer = await readBody(incoming(chunks), limit);
    expect(buffer.toString('utf8')).toBe(body);
  });

  it('refuses a declared length over the limit once the body is drained, keeping none of it', async () => {
    const stream = new PassThrough();
    Object.assign(stream, { headers: { 'content-length': '11' } });
    const req = stream as unknown as IncomingMessage;
    let settled = false;
    const reading = readBody(req, 10).finally(() => (settled = true));
    stream.write('01234');
    await new Promise(r => setImmediate(r));
    // A proxy still sending the body must not see the answer yet.
    expect(settled).toBe(false);
    stream.end('567890');
    const error = await rejection(reading);
    expect(error).toBeInstanceOf(BodyTooLargeError);
    expect(error.message).toBe('body of 11 bytes');
    expect(req.readableEnded).toBe(true);
  });

  it('refuses an undeclared body once it grows over the limit', async () => {
    const error = await rejection(
      readBody(incoming(['012345', '6789', 'A']), 10)
    );
    expect(error).toBeInstanceOf(BodyTooLargeError);
    expect(error.message).toBe('body over 10 bytes');
  });

  it('reads an oversized body to its end before refusing it', async () => {
    const req = incoming(['0123456789', 'ABCDEFGHIJ', 'KLMNOPQRST']);
    await rejection(readBody(req, 10));
    expect(req.readableEnded).toBe(true);
  });

  it('passes a stream error on', async () => {
    const stream = new PassThrough();
    Object.assign(stream, { headers: {} });
    const reading = readBody(stream as unknown as IncomingMessage, 10);
    stream.destroy(new Error('socket hang up'));
    const error = await rejection(reading);
    expect(error).not.toBeInstanceOf(BodyTooLargeError);
    expect(error.message).toBe('socket hang up');
  });
});

import { createServer, connect, Socket } from 'net';
import { Writable } from 'stream';

import { coalesceWrites } from '../../../src/sidecar/ssh/coalesce-writes';

/** A Writable that records how its chunks arrive. */
function recorder() {
  const calls: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      calls.push([chunk.toString()]);
      cb();
    },
    writev(chunks, cb) {
      calls.push(chunks.map(c => (c.chunk as Buffer).toString()));
      cb();
    }
  });
  return { stream, calls };
}

const tick = () => new Promise(resolve => setImmediate(resolve));

describe('coalesceWrites', () => {
  it('sends the writes of one tick as one writev', async () => {
    const { stream, calls } = recorder();
    coalesceWrites(stream);
    stream.write('len');
    stream.write('ciphertext');
    stream.write('tag');
    expect(calls).toEqual([]);
    await tick();
    expect(calls).toEqual([['len', 'ciphertext', 'tag']]);
  });

  it('starts a new batch in the next tick', async () => {
    const { stream, calls } = recorder();
    coalesceWrites(stream);
    stream.write('a');
    await tick();
    stream.write('b');
    stream.write('c');
    await tick();
    expect(calls).toEqual([['a'], ['b', 'c']]);
  });

  it('keeps write callbacks and the return value', async () => {
    const { stream } = recorder();
    coalesceWrites(stream);
    const done = jest.fn();
    expect(stream.write('x', done)).toBe(true);
    await tick();
    expect(done).toHaveBeenCalledTimes(1);
  });

  it('does not hold back the end of the stream', async () => {
    const { stream, calls } = recorder();
    coalesceWrites(stream);
    stream.write('last');
    stream.end();
    await new Promise(resolve => stream.once('finish', resolve));
    expect(calls.flat()).toEqual(['last']);
  });

  it('makes one TCP send of a packet written in three pieces', async () => {
    const reads: number[] = [];
    let received = 0;
    const server = createServer(s =>
      s.on('data', d => {
        reads.push(d.length);
        received += d.length;
      })
    );
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const client: Socket = connect(port, '127.0.0.1');
    await new Promise(r => client.once('connect', r));
    client.setNoDelay(true);
    coalesceWrites(client);
    const writev = jest.spyOn(
      client as unknown as { _writev: () => void },
      '_writev'
    );
    for (let i = 0; i < 20; i++) {
      client.write(Buffer.alloc(4));
      client.write(Buffer.alloc(48));
      client.write(Buffer.alloc(16));
      await tick();
    }
    const deadline = Date.now() + 5000;
    while (received < 20 * 68 && Date.now() < deadline) {
      await tick();
    }
    expect(received).toBe(20 * 68);
    expect(writev).toHaveBeenCalledTimes(20);
    client.destroy();
    await new Promise(r => server.close(r));
  });
});

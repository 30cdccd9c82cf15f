import type { Writable } from 'stream';

/**
 * Make every `write` within one tick of the event loop leave as one
 * `writev`. ssh2 without its native crypto binding (as the bundle runs it)
 * writes each encrypted packet in three pieces: length, ciphertext, MAC tag.
 * With TCP_NODELAY, which the command latency needs, each piece became its
 * own TCP segment and its own wake-up of sshd: three per packet. Corking
 * until the tick ends sends them, and anything else written in the same
 * tick, together, without delaying anything past the current tick.
 */
export function coalesceWrites(stream: Writable): void {
  const write = stream.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = function (this: Writable, ...args: unknown[]): boolean {
    if (!corked && !stream.destroyed) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as Writable['write'];
}

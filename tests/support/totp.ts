/** RFC 6238 TOTP (HMAC-SHA1), as an authenticator app computes it. */
import { createHmac } from 'crypto';

export function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) {
      throw new Error(`not base32: ${c}`);
    }
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function hotp(key: Buffer, counter: number, digits: number): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(msg).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const code = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(code % 10 ** digits).padStart(digits, '0');
}

/** The code for `secret` now (or `offset` periods away). */
export function totp(
  secret: string,
  offset = 0,
  period = 30,
  digits = 6
): string {
  const counter = Math.floor(Date.now() / 1000 / period) + offset;
  return hotp(base32Decode(secret), counter, digits);
}

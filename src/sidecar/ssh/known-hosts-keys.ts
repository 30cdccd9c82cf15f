/**
 * Public keys as ssh shows them: the type, size and SHA-256 fingerprint of
 * a raw SSH wire-format blob, checked as `ssh-keygen -l` reads it.
 */
import { createHash } from 'crypto';

/** A public key as it is shown to people. */
export interface IKeyDescription {
  /** The type inside the key blob, e.g. `ssh-ed25519`. */
  keyType: string;
  /** The type as ssh prints it: `ED25519`, `ECDSA`, `RSA`, `ED25519-SK`… */
  displayType: string;
  /** Key size as `ssh-keygen -l` prints it; undefined for unknown types. */
  bits?: number;
  /** `SHA256:` and the unpadded base64 of the blob's SHA-256. */
  fingerprint: string;
}

/** A public key: its description and its raw SSH wire-format blob. */
export interface IPublicKey extends IKeyDescription {
  blob: Buffer;
}

/** Key types ssh names by `sshkey_type()`; others are shown as they are. */
const DISPLAY_TYPES: Record<string, string> = {
  'ssh-rsa': 'RSA',
  'ssh-dss': 'DSA',
  'ecdsa-sha2-nistp256': 'ECDSA',
  'ecdsa-sha2-nistp384': 'ECDSA',
  'ecdsa-sha2-nistp521': 'ECDSA',
  'ssh-ed25519': 'ED25519',
  'sk-ecdsa-sha2-nistp256@openssh.com': 'ECDSA-SK',
  'sk-ssh-ed25519@openssh.com': 'ED25519-SK',
  'ssh-rsa-cert-v01@openssh.com': 'RSA-CERT',
  'ssh-dss-cert-v01@openssh.com': 'DSA-CERT',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': 'ECDSA-CERT',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': 'ECDSA-CERT',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': 'ECDSA-CERT',
  'ssh-ed25519-cert-v01@openssh.com': 'ED25519-CERT',
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com': 'ECDSA-SK-CERT',
  'sk-ssh-ed25519-cert-v01@openssh.com': 'ED25519-SK-CERT'
};

/** Curve name and uncompressed point length of each ECDSA key type. */
const ECDSA_CURVES: Record<string, { curve: string; bits: number }> = {
  'ecdsa-sha2-nistp256': { curve: 'nistp256', bits: 256 },
  'ecdsa-sha2-nistp384': { curve: 'nistp384', bits: 384 },
  'ecdsa-sha2-nistp521': { curve: 'nistp521', bits: 521 },
  'sk-ecdsa-sha2-nistp256@openssh.com': { curve: 'nistp256', bits: 256 }
};

/** A key blob or known_hosts line that cannot be read. */
export class KeyFormatError extends Error {}

/** Reads the uint32-length-prefixed strings of the SSH wire format. */
class BlobReader {
  private pos = 0;

  constructor(private readonly buf: Buffer) {}

  string(what: string): Buffer {
    if (this.pos + 4 > this.buf.length) {
      throw new KeyFormatError(`key blob ends before its ${what}`);
    }
    const len = this.buf.readUInt32BE(this.pos);
    const start = this.pos + 4;
    if (len > this.buf.length - start) {
      throw new KeyFormatError(`key blob ends inside its ${what}`);
    }
    this.pos = start + len;
    return this.buf.subarray(start, this.pos);
  }

  end(): void {
    if (this.pos !== this.buf.length) {
      throw new KeyFormatError('key blob has trailing bytes');
    }
  }
}

/** Bit length of an SSH mpint (big-endian, possibly with a leading 0). */
function mpintBits(value: Buffer): number {
  let i = 0;
  while (i < value.length && value[i] === 0) {
    i++;
  }
  if (i === value.length) {
    return 0;
  }
  return (value.length - i - 1) * 8 + (32 - Math.clz32(value[i]));
}

function ecdsaPoint(reader: BlobReader, keyType: string): number {
  const { curve, bits } = ECDSA_CURVES[keyType];
  const name = reader.string('curve name').toString('latin1');
  if (name !== curve) {
    throw new KeyFormatError(`${keyType} key names curve ${name}`);
  }
  const point = reader.string('public point');
  const coord = Math.ceil(bits / 8);
  if (point.length !== 1 + 2 * coord || point[0] !== 4) {
    throw new KeyFormatError(`${keyType} key has a malformed public point`);
  }
  return bits;
}

/** The key size `ssh-keygen -l` prints, after checking the blob's layout. */
function keyBits(keyType: string, reader: BlobReader): number | undefined {
  switch (keyType) {
    case 'ssh-ed25519':
    case 'sk-ssh-ed25519@openssh.com': {
      if (reader.string('public key').length !== 32) {
        throw new KeyFormatError(`${keyType} key is not 32 bytes`);
      }
      if (keyType !== 'ssh-ed25519') {
        reader.string('application');
      }
      reader.end();
      return 256;
    }
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521':
    case 'sk-ecdsa-sha2-nistp256@openssh.com': {
      const bits = ecdsaPoint(reader, keyType);
      if (keyType.startsWith('sk-')) {
        reader.string('application');
      }
      reader.end();
      return bits;
    }
    case 'ssh-rsa': {
      reader.string('exponent');
      const bits = mpintBits(reader.string('modulus'));
      reader.end();
      return bits;
    }
    case 'ssh-dss': {
      const bits = mpintBits(reader.string('p'));
      reader.string('q');
      reader.string('g');
      reader.string('y');
      reader.end();
      return bits;
    }
    default:
      // A type this module does not know (a certificate, a newer algorithm):
      // it still has a type and a fingerprint, and counts for `changed`.
      return undefined;
  }
}

/** `SHA256:` + unpadded base64 of sha256(blob), exactly as OpenSSH prints. */
export function fingerprintSha256(key: Buffer): string {
  return (
    'SHA256:' +
    createHash('sha256').update(key).digest('base64').replace(/=+$/, '')
  );
}

/**
 * Read a raw public key blob (what ssh2's `hostVerifier` receives): its type,
 * size and fingerprint. Throws KeyFormatError when the blob is malformed.
 */
export function parsePublicKey(blob: Buffer): IPublicKey {
  const reader = new BlobReader(blob);
  const keyType = reader.string('key type').toString('latin1');
  if (!/^[\x21-\x7e]{1,64}$/.test(keyType)) {
    throw new KeyFormatError('key blob does not start with a key type name');
  }
  return {
    keyType,
    displayType: DISPLAY_TYPES[keyType] ?? keyType,
    bits: keyBits(keyType, reader),
    fingerprint: fingerprintSha256(blob),
    blob
  };
}

/** "ED25519 key fingerprint is SHA256:…", the line ssh prints for a new host. */
export function fingerprintLine(key: IKeyDescription): string {
  return `${key.displayType} key fingerprint is ${key.fingerprint}`;
}

/**
 * Signature algorithm names a caller may hold instead of the key type (RSA
 * keys sign with rsa-sha2-256/512 but are stored as ssh-rsa).
 */
export function normalizeKeyType(keyType: string): string {
  return keyType === 'rsa-sha2-256' || keyType === 'rsa-sha2-512'
    ? 'ssh-rsa'
    : keyType;
}

/**
 * A new ed25519 key pair in OpenSSH's own formats, from Node's key
 * generation: the public key line (`ssh-ed25519 <base64> comment`) and the
 * `openssh-key-v1` private key file ssh-keygen writes, unencrypted or
 * encrypted as ssh-keygen does by default (bcrypt_pbkdf, aes256-ctr).
 *
 * Not ssh2's `utils.generateKeyPairSync`: it drops leading zero bytes of the
 * 32-byte public key (mscdex/ssh2#1390, #1513), so about one key in 256 came
 * out unusable. Here both halves are taken at their fixed length from JWK.
 */
import { createCipheriv, generateKeyPairSync, randomBytes } from 'crypto';

import { pbkdf as bcryptPbkdf } from 'bcrypt-pbkdf';

const KEY_TYPE = 'ssh-ed25519';
const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
/** ssh-keygen's salt length for bcrypt_pbkdf. */
const SALT_BYTES = 16;
const AES256_KEY_BYTES = 32;
const AES_IV_BYTES = 16;

export interface IEd25519Options {
  comment: string;
  /** Encrypts the private key; empty or absent: none. */
  passphrase?: string;
  /** bcrypt_pbkdf rounds when there is a passphrase. */
  rounds: number;
}

export interface IOpenSshKeyPair {
  /** The private key file's text (PEM-style armour, ends with a newline). */
  private: string;
  /** `ssh-ed25519 <base64>[ comment]`, without a newline. */
  public: string;
}

export function generateEd25519KeyPair(
  options: IEd25519Options
): IOpenSshKeyPair {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({
    format: 'jwk'
  });
  const seed = Buffer.from(jwk.d ?? '', 'base64url');
  const publicKey = Buffer.from(jwk.x ?? '', 'base64url');
  if (seed.length !== 32 || publicKey.length !== 32) {
    throw new Error('Node returned an ed25519 key of the wrong length');
  }
  return encodeEd25519KeyPair(seed, publicKey, options);
}

/**
 * The OpenSSH encoding of one ed25519 key (PROTOCOL.key): exported for tests
 * that need particular keys, such as one whose public key starts with 0.
 */
export function encodeEd25519KeyPair(
  seed: Buffer,
  publicKey: Buffer,
  options: IEd25519Options
): IOpenSshKeyPair {
  const publicBlob = Buffer.concat([sshString(KEY_TYPE), sshString(publicKey)]);
  const check = randomBytes(4);
  const secret = Buffer.concat([
    check,
    check,
    sshString(KEY_TYPE),
    sshString(publicKey),
    sshString(Buffer.concat([seed, publicKey])),
    sshString(options.comment)
  ]);
  const passphrase = options.passphrase ?? '';
  let cipherName = 'none';
  let kdfName = 'none';
  let kdfOptions = Buffer.alloc(0);
  let encrypted: Buffer;
  if (passphrase === '') {
    encrypted = pad(secret, 8);
  } else {
    const salt = randomBytes(SALT_BYTES);
    const pass = Buffer.from(passphrase, 'utf8');
    const derived = Buffer.alloc(AES256_KEY_BYTES + AES_IV_BYTES);
    const status = bcryptPbkdf(
      pass,
      pass.length,
      salt,
      salt.length,
      derived,
      derived.length,
      options.rounds
    );
    if (status !== 0) {
      throw new Error('bcrypt_pbkdf could not derive the key');
    }
    const cipher = createCipheriv(
      'aes-256-ctr',
      derived.subarray(0, AES256_KEY_BYTES),
      derived.subarray(AES256_KEY_BYTES)
    );
    encrypted = Buffer.concat([cipher.update(pad(secret, 16)), cipher.final()]);
    cipherName = 'aes256-ctr';
    kdfName = 'bcrypt';
    kdfOptions = Buffer.concat([sshString(salt), uint32(options.rounds)]);
  }
  const body = Buffer.concat([
    MAGIC,
    sshString(cipherName),
    sshString(kdfName),
    sshString(kdfOptions),
    uint32(1),
    sshString(publicBlob),
    sshString(encrypted)
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  const blob = publicBlob.toString('base64');
  return {
    private: [
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      ...lines,
      '-----END OPENSSH PRIVATE KEY-----',
      ''
    ].join('\n'),
    public: options.comment
      ? `${KEY_TYPE} ${blob} ${options.comment}`
      : `${KEY_TYPE} ${blob}`
  };
}

function uint32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}

function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([uint32(bytes.length), bytes]);
}

/** OpenSSH's padding of the private section: bytes 1, 2, 3, … to a block. */
function pad(data: Buffer, block: number): Buffer {
  const extra = (block - (data.length % block)) % block;
  return Buffer.concat([
    data,
    Buffer.from(Array.from({ length: extra }, (_, i) => i + 1))
  ]);
}

/**
 * Key setup, as the usual tutorial does it with `ssh-keygen` and
 * `ssh-copy-id`: make (or reuse) a key pair on this computer, then add its
 * public key to `~/.ssh/authorized_keys` on the cluster, once.
 */

import { randomBytes } from 'crypto';
import { constants as fsConstants } from 'fs';
import {
  chmod,
  mkdir,
  open,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
  type FileHandle
} from 'fs/promises';
import { homedir } from 'os';
import { dirname, isAbsolute, join, normalize } from 'path';

import { utils } from 'ssh2';

import type { ErrorCode } from '../../common/api';
import { SidecarError } from '../errors';
import { generateEd25519KeyPair } from './ed25519-key';
import {
  fingerprintSha256,
  KeyFormatError,
  parsePublicKey
} from './known-hosts';
import type { ICommandOutput, IRemoteCommand } from '../shell/remote-command';
import installKeySh from './install-key.sh';

/** bcrypt_pbkdf rounds for a new key's passphrase: ssh-keygen's default. */
export const KEY_KDF_ROUNDS = 16;

/** What the key setup produced. */
export interface IKeyPair {
  /** Absolute path of the private key. */
  keyPath: string;
  /** `<type> <base64> [comment]`, one line without a newline. */
  publicKeyLine: string;
  /** `SHA256:…`, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** False when the key existed and was reused. */
  created: boolean;
}

export interface IEnsureKeyPairOptions {
  /** The private key file; `~/` means the user's home. */
  path: string;
  /**
   * Encrypts a new key. For an existing key it is only needed when the
   * `.pub` file is missing; when given, it must be right. Empty: none.
   */
  passphrase?: string;
  /** The comment of a new key, e.g. `jupyterlab-hpc alice@hpc`. */
  comment: string;
  /** What `~` means (default: this user's home). */
  home?: string;
}

/** A public key line, split up. */
export interface IPublicKeyLine {
  keyType: string;
  /** The key blob, as in the base64 field. */
  blob: Buffer;
  comment: string;
  /** Normalized: single spaces, no trailing blanks. */
  line: string;
  fingerprint: string;
}

/** Key types this setup creates or installs (the ones OpenSSH still takes). */
const KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521'
];

const PUBLIC_KEY_LINE =
  /^([A-Za-z0-9@.-]+)[ \t]+([A-Za-z0-9+/]+={0,2})(?:[ \t]+([^\p{Cc}\p{Cs}]*?))?[ \t]*$/u;

/** Longest public key line accepted; a 16384-bit RSA key needs ~2.8 KB. */
const MAX_PUBLIC_KEY_LINE = 16 * 1024;

/** Control characters (C0, DEL, C1) and lone UTF-16 surrogates. */
const CONTROL = /[\p{Cc}\p{Cs}]/u;

/**
 * `path` with `~` and `~/` expanded, normalized. Throws SidecarError
 * 'key-setup-failed' unless the result is absolute, and for a newline or
 * NUL anywhere (they would break authorized_keys, ssh_config and logs).
 */
export function resolveKeyPath(path: string, home: string = homedir()): string {
  if (/[\n\r\0]/.test(path)) {
    throw new SidecarError(
      'key-setup-failed',
      `The key path ${JSON.stringify(path)} contains a line break or NUL byte.`
    );
  }
  const expanded =
    path === '~'
      ? home
      : path.startsWith('~/')
        ? join(home, path.slice(2))
        : path;
  if (!isAbsolute(expanded)) {
    throw new SidecarError(
      'key-setup-failed',
      `The key path must be absolute or start with ~/, got ${JSON.stringify(path)}.`
    );
  }
  return normalize(expanded);
}

/**
 * Read one OpenSSH public key line (`ssh-ed25519 AAAA… comment`).
 * Throws SidecarError(`code`) when it is anything else.
 */
export function parsePublicKeyLine(
  text: string,
  code: ErrorCode = 'key-setup-failed'
): IPublicKeyLine {
  const invalid = (why: string): SidecarError =>
    new SidecarError(code, `Not an OpenSSH public key: ${why}.`);
  if (text.length > MAX_PUBLIC_KEY_LINE) {
    throw invalid(`the line is longer than ${MAX_PUBLIC_KEY_LINE} characters`);
  }
  const match = PUBLIC_KEY_LINE.exec(text);
  if (!match) {
    throw invalid(
      CONTROL.test(text.replace(/\t/g, ' '))
        ? 'it must be one line without control characters'
        : `expected "<type> <base64> [comment]", got ${JSON.stringify(text.slice(0, 60))}`
    );
  }
  const [, keyType, base64, comment = ''] = match;
  if (!KEY_TYPES.includes(keyType)) {
    throw invalid(
      `${keyType} keys are not supported (use ${KEY_TYPES.join(', ')})`
    );
  }
  const blob = Buffer.from(base64, 'base64');
  let blobType = '';
  try {
    blobType = parsePublicKey(blob).keyType;
  } catch (err) {
    if (!(err instanceof KeyFormatError)) {
      throw err;
    }
  }
  if (blobType !== keyType || blob.toString('base64') !== base64) {
    throw invalid(`the base64 part is not a ${keyType} key`);
  }
  return {
    keyType,
    blob,
    comment,
    line: comment ? `${keyType} ${base64} ${comment}` : `${keyType} ${base64}`,
    fingerprint: fingerprintSha256(blob)
  };
}

/**
 * Reuse the key pair at `options.path`, or create an ed25519 pair there (the
 * private key 0600, created exclusively, never readable by others for a
 * moment; `.pub` 0644; a missing parent directory 0700).
 *
 * An existing key is used as it is: its `.pub` file gives the public key
 * (as for ssh-copy-id); when that is missing, the private key does, which
 * then needs the passphrase if it is encrypted. Throws SidecarError
 * 'key-unreadable' when an existing key cannot be used, 'key-setup-failed'
 * when a new one cannot be made.
 */
export async function ensureKeyPair(
  options: IEnsureKeyPairOptions
): Promise<IKeyPair> {
  const keyPath = resolveKeyPath(options.path, options.home);
  if (CONTROL.test(options.comment)) {
    throw new SidecarError(
      'key-setup-failed',
      'The key comment must be one line without control characters.'
    );
  }
  const passphrase = options.passphrase || undefined;
  const privateKey = await readKey(keyPath);
  if (privateKey === null) {
    return createKeyPair(keyPath, options.comment, passphrase);
  }
  const publicKey = await reuseKeyPair(keyPath, privateKey, passphrase);
  return {
    keyPath,
    publicKeyLine: publicKey.line,
    fingerprint: publicKey.fingerprint,
    created: false
  };
}

/** The file's bytes; null if there is none; throws if it cannot be read. */
async function readKey(path: string): Promise<Buffer | null> {
  try {
    const info = await stat(path);
    if (!info.isFile()) {
      throw new SidecarError(
        'key-unreadable',
        `${path} is not a key file (it is a directory or a device).`
      );
    }
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return null;
    }
    if (err instanceof SidecarError) {
      throw err;
    }
    throw new SidecarError(
      'key-unreadable',
      `Could not read the key ${path}: ${(err as Error).message}`,
      { cause: err }
    );
  }
}

async function reuseKeyPair(
  keyPath: string,
  privateKey: Buffer,
  passphrase: string | undefined
): Promise<IPublicKeyLine> {
  const pubPath = `${keyPath}.pub`;
  const pubText = await readKey(pubPath);
  const parsed = utils.parseKey(privateKey, passphrase);
  const unreadable = (why: string, cause?: unknown): SidecarError =>
    new SidecarError('key-unreadable', `${keyPath}: ${why}`, { cause });

  if (parsed instanceof Error) {
    const encrypted = /no passphrase given/.test(parsed.message);
    const badPassphrase = /bad passphrase/i.test(parsed.message);
    if (pubText !== null && !badPassphrase) {
      // Encrypted without a passphrase here, or a kind ssh2 cannot read:
      // the .pub says which key it is, as for ssh-copy-id.
      return readPublicKeyFile(pubPath, pubText);
    }
    if (badPassphrase) {
      throw unreadable('the passphrase is wrong.', parsed);
    }
    if (encrypted) {
      throw unreadable(
        `the key is protected by a passphrase and ${pubPath} is missing: enter the passphrase.`,
        parsed
      );
    }
    throw unreadable(
      `not a private key that can be read (${parsed.message}).`,
      parsed
    );
  }
  if (!parsed.isPrivateKey()) {
    throw unreadable('this is a public key; choose the private key file.');
  }
  let derived: IPublicKeyLine;
  try {
    const blob = parsed.getPublicSSH().toString('base64');
    derived = parsePublicKeyLine(
      `${parsed.type} ${blob}${parsed.comment ? ` ${parsed.comment}` : ''}`,
      'key-unreadable'
    );
  } catch (err) {
    throw unreadable((err as Error).message, err);
  }
  if (pubText === null) {
    return derived;
  }
  const fromFile = readPublicKeyFile(pubPath, pubText);
  if (!fromFile.blob.equals(derived.blob)) {
    throw unreadable(`${pubPath} belongs to another key; delete it or fix it.`);
  }
  return fromFile;
}

function readPublicKeyFile(pubPath: string, text: Buffer): IPublicKeyLine {
  const line = text.toString('utf8').replace(/\r?\n$/, '');
  try {
    return parsePublicKeyLine(line, 'key-unreadable');
  } catch (err) {
    throw new SidecarError(
      'key-unreadable',
      `${pubPath}: ${(err as Error).message}`,
      { cause: err }
    );
  }
}

async function createKeyPair(
  keyPath: string,
  comment: string,
  passphrase: string | undefined
): Promise<IKeyPair> {
  const failed = (what: string, err: unknown): SidecarError =>
    new SidecarError(
      'key-setup-failed',
      `Could not ${what}: ${(err as Error).message}`,
      { cause: err }
    );
  const directory = dirname(keyPath);
  try {
    await mkdir(directory, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw failed(`create the directory ${directory}`, err);
  }
  let pair: { private: string; public: string };
  try {
    pair = generateEd25519KeyPair({
      comment,
      passphrase,
      rounds: KEY_KDF_ROUNDS
    });
  } catch (err) {
    throw failed('generate an ed25519 key', err);
  }
  const publicKey = parsePublicKeyLine(pair.public);

  // Exclusive create with the final mode: no moment where the key exists
  // with wider permissions, and never over a key that appeared meanwhile.
  let handle: FileHandle;
  try {
    handle = await open(
      keyPath,
      fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL,
      0o600
    );
  } catch (err) {
    throw failed(`create ${keyPath}`, err);
  }
  try {
    await handle.writeFile(pair.private);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(keyPath, { force: true });
    throw failed(`write ${keyPath}`, err);
  }
  await handle.close();

  const pubPath = `${keyPath}.pub`;
  try {
    // A stale .pub without its private key is replaced, as ssh-keygen does.
    const temporary = `${pubPath}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temporary, `${publicKey.line}\n`, {
      flag: 'wx',
      mode: 0o644
    });
    try {
      await chmod(temporary, 0o644);
      await rename(temporary, pubPath);
    } catch (err) {
      await rm(temporary, { force: true });
      throw err;
    }
  } catch (err) {
    await rm(keyPath, { force: true });
    throw failed(`write ${pubPath}`, err);
  }
  return {
    keyPath,
    publicKeyLine: publicKey.line,
    fingerprint: publicKey.fingerprint,
    created: true
  };
}

/** The line the install script prints last. */
const RESULT = /^jlhpc-key:(installed|present)$/;

/**
 * POSIX sh (install-key.sh), run as `sh -c SCRIPT jlhpc-install-key '<public key line>'`, so
 * the key is data, never shell code. Like ssh-copy-id, it creates ~/.ssh
 * and authorized_keys (umask 077) when missing and appends the key after a
 * newline if the file lacks one; unlike it, it first looks for the key
 * (type and base64, whatever the comment or options before them) and adds
 * it only when absent. Permissions are tightened only on a ~/.ssh and
 * authorized_keys that the user owns and that are not symlinks, so a file
 * managed by root or shared through a link is left as it is.
 */
const INSTALL_SCRIPT = installKeySh;

/**
 * The command that adds `publicKeyLine` to ~/.ssh/authorized_keys unless a
 * line there has the same key. Run it through a transport and give the
 * output to `parseInstallResult`.
 */
export function installKeyCommand(publicKeyLine: string): IRemoteCommand {
  const { line } = parsePublicKeyLine(publicKeyLine);
  return {
    argv: ['/bin/sh', '-c', INSTALL_SCRIPT, 'jlhpc-install-key', line]
  };
}

/**
 * What the install command did. Throws SidecarError 'key-setup-failed'
 * with what it said on stderr when it did not succeed.
 */
export function parseInstallResult(
  output: ICommandOutput
): 'installed' | 'present' {
  const lines = output.stdout.toString('utf8').split('\n').filter(Boolean);
  const match = RESULT.exec(lines[lines.length - 1] ?? '');
  if (output.exitCode === 0 && match) {
    return match[1] as 'installed' | 'present';
  }
  const said = output.stderr.toString('utf8').trim().slice(-1000);
  const status =
    output.exitCode === null
      ? 'it did not finish'
      : `exit status ${output.exitCode}`;
  throw new SidecarError(
    'key-setup-failed',
    `Could not add the public key to ~/.ssh/authorized_keys (${status})${said ? `: ${said}` : '.'}`
  );
}

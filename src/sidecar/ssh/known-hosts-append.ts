/**
 * Adding a key the user accepted to a known_hosts file, as ssh does, one
 * append at a time per file.
 */
import { constants, promises as fs } from 'fs';
import { homedir } from 'os';
import { dirname } from 'path';

import { displayPath } from '../paths';
import { checkHostKeyInEntries, offeredKey } from './known-hosts-check';
import { HostKeyError } from './known-hosts-error';
import { hostKeyError } from './known-hosts-messages';
import { hashKnownHostsName, knownHostsName } from './known-hosts-names';
import { parseKnownHosts } from './known-hosts-parse';

export interface IAppendOptions {
  /** Write the name hashed, as HashKnownHosts does. */
  hash: boolean;
  hostKeyAlias?: string;
}

export interface IAppendResult {
  /** False when the file already held the key for this host. */
  appended: boolean;
  /** The name the key is stored under (unhashed). */
  name: string;
  /** The line written, without its newline; empty when nothing was written. */
  text: string;
}

/** Appends to one file run one after another inside this process. */
const appendQueue = new Map<string, Promise<unknown>>();

function writeFailed(file: string, error: unknown): HostKeyError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  const shown = displayPath(file, homedir());
  return new HostKeyError(
    'known-hosts-write-failed',
    `Could not add the host key to ${shown} (${code}). Check that ${shown} and its directory exist, ` +
      'belong to you and are writable by you.'
  );
}

async function appendNow(
  file: string,
  host: string,
  port: number,
  keyType: string,
  key: Buffer,
  options: IAppendOptions
): Promise<IAppendResult> {
  const parsedKey = offeredKey(key, keyType);
  const name = knownHostsName(host, port, options.hostKeyAlias);

  let existing = '';
  try {
    existing = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw writeFailed(file, error);
    }
  }
  const check = checkHostKeyInEntries(parseKnownHosts(existing, file), {
    host,
    port,
    key,
    hostKeyAlias: options.hostKeyAlias
  });
  if (check.status === 'known') {
    return { appended: false, name, text: '' };
  }
  if (check.status !== 'unknown') {
    // Adding a second key next to a different or revoked one would make a
    // changed key look known: the old line must go first.
    throw hostKeyError(check);
  }

  const field = options.hash ? hashKnownHostsName(name) : name;
  const text = `${field} ${parsedKey.keyType} ${key.toString('base64')}`;
  const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
  const data = Buffer.from(`${separator}${text}\n`, 'utf8');

  try {
    // Creates the directory (and missing parents) 0700; never changes the
    // mode of one that exists.
    await fs.mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const handle = await fs.open(
      file,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT,
      0o600
    );
    try {
      if (!(await handle.stat()).isFile()) {
        throw Object.assign(new Error('not a regular file'), {
          code: 'ENOTREG'
        });
      }
      let offset = 0;
      while (offset < data.length) {
        const { bytesWritten } = await handle.write(data, offset);
        offset += bytesWritten;
      }
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw writeFailed(file, error);
  }
  return { appended: true, name, text };
}

/**
 * Add a key the user accepted to a known_hosts file, as ssh does: one line
 * `name keytype base64`, the name `[host]:port` for ports other than 22 and
 * hashed when asked. Does nothing when the file already holds the key for
 * the host; refuses (HostKeyError) when it holds a different or revoked key.
 * A new file is created with mode 0600 and a missing directory with 0700;
 * existing modes are left alone.
 */
export function appendKnownHost(
  file: string,
  host: string,
  port: number,
  keyType: string,
  key: Buffer,
  options: IAppendOptions
): Promise<IAppendResult> {
  const previous = appendQueue.get(file) ?? Promise.resolve();
  const next = previous
    .catch(() => undefined)
    .then(() => appendNow(file, host, port, keyType, key, options));
  appendQueue.set(file, next);
  const forget = () => {
    if (appendQueue.get(file) === next) {
      appendQueue.delete(file);
    }
  };
  next.then(forget, forget);
  return next;
}

/**
 * Checking a server's host key against known_hosts entries, as OpenSSH's
 * check_hostkeys_by_key_or_type and sshconnect.c do: known, unknown,
 * changed or revoked.
 */
import { HostKeyError } from './known-hosts-error';
import {
  IKeyDescription,
  IPublicKey,
  normalizeKeyType,
  parsePublicKey
} from './known-hosts-keys';
import {
  DEFAULT_GLOBAL_KNOWN_HOSTS_FILES,
  DEFAULT_SSH_PORT,
  knownHostsName
} from './known-hosts-names';
import {
  entryMatches,
  IKnownHostEntry,
  IKnownHostsWarning,
  IParsedKnownHosts,
  readKnownHosts
} from './known-hosts-parse';

export interface IHostKeyQuery {
  host: string;
  port?: number;
  /** The type the caller negotiated; checked against the blob when given. */
  keyType?: string;
  /** The raw host key blob, as ssh2's hostVerifier receives it. */
  key: Buffer;
  hostKeyAlias?: string;
}

export interface IHostKeyCheckOptions extends IHostKeyQuery {
  /**
   * UserKnownHostsFile, absolute paths (`~` is not expanded): searched in
   * order; a key the user accepts belongs in the first.
   */
  files: readonly string[];
  /** GlobalKnownHostsFile, read only; OpenSSH's defaults when omitted. */
  globalFiles?: readonly string[];
}

/** A key of a known_hosts line, for display. */
export interface IKnownKey extends IKeyDescription {
  file: string;
  line: number;
  readOnly: boolean;
}

interface IHostKeyResultBase {
  host: string;
  port: number;
  hostKeyAlias?: string;
  /** The name looked up: alias, `host` or `[host]:port`. */
  name: string;
  /** The key the server offered. */
  offered: IKeyDescription;
  fingerprint: string;
  warnings: IKnownHostsWarning[];
}

export interface IHostKeyKnown extends IHostKeyResultBase {
  status: 'known';
  file: string;
  line: number;
  /** The name of the line that held the key (the bare host, for the port fallback). */
  matchedName: string;
}

export interface IHostKeyUnknown extends IHostKeyResultBase {
  status: 'unknown';
}

export interface IHostKeyChanged extends IHostKeyResultBase {
  status: 'changed';
  /** Whether a known key has the offered key's type (else only other types are known). */
  sameType: boolean;
  knownFingerprints: string[];
  knownKeys: IKnownKey[];
  /** The line shown to the user: one of the offered type if any, else the first. */
  file: string;
  line: number;
  readOnly: boolean;
}

export interface IHostKeyRevoked extends IHostKeyResultBase {
  status: 'revoked';
  file: string;
  line: number;
  readOnly: boolean;
}

export type HostKeyCheck =
  IHostKeyKnown | IHostKeyUnknown | IHostKeyChanged | IHostKeyRevoked;

/** What the user must decide about or be told: everything but 'known'. */
export type HostKeyProblem =
  IHostKeyUnknown | IHostKeyChanged | IHostKeyRevoked;

type Lookup =
  | { status: 'known' | 'revoked'; entry: IKnownHostEntry }
  | { status: 'changed'; entries: IKnownHostEntry[] }
  | { status: 'unknown' };

/** OpenSSH's check_hostkeys_by_key_or_type for a plain (non-certificate) key. */
function lookup(
  entries: readonly IKnownHostEntry[],
  name: string,
  key: IPublicKey
): Lookup {
  const matching = entries.filter(entry => entryMatches(entry, name));
  const revoked = matching.find(
    entry => entry.marker === 'revoked' && entry.key.blob.equals(key.blob)
  );
  if (revoked) {
    return { status: 'revoked', entry: revoked };
  }
  const plain = matching.filter(entry => entry.marker === 'none');
  const same = plain.find(entry => entry.key.blob.equals(key.blob));
  if (same) {
    return { status: 'known', entry: same };
  }
  return plain.length > 0
    ? { status: 'changed', entries: plain }
    : { status: 'unknown' };
}

function describe(key: IKeyDescription): IKeyDescription {
  const { keyType, displayType, bits, fingerprint } = key;
  return { keyType, displayType, bits, fingerprint };
}

/** Parse the offered key and check it against the type the caller named. */
export function offeredKey(key: Buffer, keyType?: string): IPublicKey {
  let parsed: IPublicKey;
  try {
    parsed = parsePublicKey(key);
  } catch (error) {
    throw new HostKeyError(
      'host-key-invalid',
      `The server sent a host key that cannot be read (${(error as Error).message}); not connecting.`
    );
  }
  if (keyType !== undefined && normalizeKeyType(keyType) !== parsed.keyType) {
    throw new HostKeyError(
      'host-key-invalid',
      `The server negotiated a ${keyType} host key but sent a ${parsed.keyType} key; not connecting.`
    );
  }
  return parsed;
}

/**
 * Check a server's host key against already parsed known_hosts entries.
 * Pure: `checkHostKey` reads the files and calls this.
 */
export function checkHostKeyInEntries(
  parsed: IParsedKnownHosts,
  query: IHostKeyQuery
): HostKeyCheck {
  const port = query.port ?? DEFAULT_SSH_PORT;
  const key = offeredKey(query.key, query.keyType);
  const name = knownHostsName(query.host, port, query.hostKeyAlias);
  const warnings = [...parsed.warnings];
  for (const entry of parsed.entries) {
    if (entry.marker === 'cert-authority' && entryMatches(entry, name)) {
      warnings.push({
        code: 'cert-authority-unsupported',
        file: entry.file,
        line: entry.line,
        message:
          `${entry.file}:${entry.line}: @cert-authority for ${name} ignored: ` +
          'host certificates are not supported, so only plain host keys are checked'
      });
    }
  }
  const base = {
    host: query.host,
    port,
    hostKeyAlias: query.hostKeyAlias,
    name,
    offered: describe(key),
    fingerprint: key.fingerprint,
    warnings
  };

  let found = lookup(parsed.entries, name, key);
  let matchedName = name;
  if (
    found.status === 'unknown' &&
    !query.hostKeyAlias &&
    port !== DEFAULT_SSH_PORT &&
    port !== 0
  ) {
    // sshconnect.c: "checking without port identifier". Only a match or a
    // revocation counts; a different key under the bare host is port 22's.
    const bare = query.host.toLowerCase();
    const fallback = lookup(parsed.entries, bare, key);
    if (fallback.status === 'known' || fallback.status === 'revoked') {
      found = fallback;
      matchedName = bare;
    }
  }

  switch (found.status) {
    case 'known':
      return {
        ...base,
        status: 'known',
        file: found.entry.file,
        line: found.entry.line,
        matchedName
      };
    case 'revoked':
      return {
        ...base,
        status: 'revoked',
        file: found.entry.file,
        line: found.entry.line,
        readOnly: found.entry.readOnly
      };
    case 'changed': {
      const shown =
        found.entries.find(entry => entry.key.keyType === key.keyType) ??
        found.entries[0];
      return {
        ...base,
        status: 'changed',
        sameType: shown.key.keyType === key.keyType,
        knownFingerprints: found.entries.map(entry => entry.key.fingerprint),
        knownKeys: found.entries.map(entry => ({
          ...describe(entry.key),
          file: entry.file,
          line: entry.line,
          readOnly: entry.readOnly
        })),
        file: shown.file,
        line: shown.line,
        readOnly: shown.readOnly
      };
    }
    default:
      return { ...base, status: 'unknown' };
  }
}

/**
 * Check a server's host key against the user's and the global known_hosts
 * files. Only `status: 'known'` may connect without asking; 'unknown' must
 * ask the user (then `appendKnownHost`), 'changed' and 'revoked' must refuse
 * (`hostKeyError`). Throws HostKeyError('host-key-invalid') for a blob that
 * cannot be read.
 */
export async function checkHostKey(
  options: IHostKeyCheckOptions
): Promise<HostKeyCheck> {
  const parsed = await readKnownHosts(
    options.files,
    options.globalFiles ?? DEFAULT_GLOBAL_KNOWN_HOSTS_FILES
  );
  return checkHostKeyInEntries(parsed, options);
}

/**
 * The key types known for a host, in file order, for the connection to offer
 * first (OpenSSH's order_hostkeyalgs): a server that still has the known key
 * then presents it rather than one of another type.
 */
export async function knownHostKeyTypes(
  options: Omit<IHostKeyCheckOptions, 'key' | 'keyType'>
): Promise<string[]> {
  const parsed = await readKnownHosts(
    options.files,
    options.globalFiles ?? DEFAULT_GLOBAL_KNOWN_HOSTS_FILES
  );
  const port = options.port ?? DEFAULT_SSH_PORT;
  const name = knownHostsName(options.host, port, options.hostKeyAlias);
  const types: string[] = [];
  for (const entry of parsed.entries) {
    if (
      entry.marker === 'none' &&
      entryMatches(entry, name) &&
      !types.includes(entry.key.keyType)
    ) {
      types.push(entry.key.keyType);
    }
  }
  return types;
}

/**
 * OpenSSH `known_hosts` files: reading, checking a server's host key, and
 * adding a key the user accepted.
 *
 * It follows OpenSSH (hostfile.c, sshconnect.c, match.c) wherever it can:
 *
 * - A host is looked up under the name OpenSSH forms: the host in lower case
 *   for port 22, `[host]:port` for any other port, the HostKeyAlias alone
 *   (without a port) when one is set.
 * - A line is `[@marker] hosts keytype base64 [comment]`. `hosts` is a comma
 *   list of patterns with `*`, `?` and `!negation`, or one hashed name
 *   `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`.
 * - A key is *known* when a plain line for the host holds exactly that key.
 *   When plain lines exist for the host but none holds the key, the key has
 *   *changed*, whatever their key types: OpenSSH 9 says "REMOTE HOST
 *   IDENTIFICATION HAS CHANGED" and refuses when it knows an ED25519 key and
 *   the server offers RSA, and so do we (`sameType: false` tells the two
 *   cases apart for the message). The connection module should offer the
 *   server the key types `knownHostKeyTypes` returns first, as OpenSSH does,
 *   so that a server which still has the known key presents it.
 * - A key on a matching `@revoked` line is refused even when a plain line
 *   also lists it.
 * - `@cert-authority` lines are recognised and never trusted for a plain
 *   key; host certificates are not supported, so a matching one is reported
 *   as a warning.
 * - For a port other than 22 without HostKeyAlias, a key unknown under
 *   `[host]:port` is still known when a line for the bare host holds it.
 *
 * Not done (OpenSSH's defaults make them rare): CheckHostIP (off by default
 * since 8.5), KnownHostsCommand, VerifyHostKeyDNS, host certificates.
 *
 * Nothing here runs a program; files are only read, except by
 * `appendKnownHost`, which creates them with mode 0600.
 */
import { createHash, createHmac, randomBytes } from 'crypto';
import { constants, promises as fs } from 'fs';
import { homedir } from 'os';
import { dirname, join } from 'path';

import { quoteArg } from '../shell/quote';

export const DEFAULT_SSH_PORT = 22;

/** OpenSSH's default GlobalKnownHostsFile, read only. */
export const DEFAULT_GLOBAL_KNOWN_HOSTS_FILES: readonly string[] = [
  '/etc/ssh/ssh_known_hosts',
  '/etc/ssh/ssh_known_hosts2'
];

/** OpenSSH's default UserKnownHostsFile; keys are added to the first. */
export function defaultUserKnownHostsFiles(home = homedir()): string[] {
  return [
    join(home, '.ssh', 'known_hosts'),
    join(home, '.ssh', 'known_hosts2')
  ];
}

// ---------------------------------------------------------------------------
// Keys

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
function normalizeKeyType(keyType: string): string {
  return keyType === 'rsa-sha2-256' || keyType === 'rsa-sha2-512'
    ? 'ssh-rsa'
    : keyType;
}

// ---------------------------------------------------------------------------
// Names and patterns

/**
 * The name a host is stored under in known_hosts: the HostKeyAlias if set,
 * else the host for port 22 and `[host]:port` otherwise; in lower case, as
 * ssh lowercases both before looking them up.
 */
export function knownHostsName(
  host: string,
  port: number = DEFAULT_SSH_PORT,
  hostKeyAlias?: string
): string {
  if (hostKeyAlias) {
    return hostKeyAlias.toLowerCase();
  }
  const lower = host.toLowerCase();
  return port === DEFAULT_SSH_PORT || port === 0 ? lower : `[${lower}]:${port}`;
}

const HASH_MAGIC = '|1|';
const SHA1_BYTES = 20;

/** OpenSSH HashKnownHosts form of a name; a fresh salt unless one is given. */
export function hashKnownHostsName(
  name: string,
  salt: Buffer = randomBytes(SHA1_BYTES)
): string {
  const mac = createHmac('sha1', salt).update(name).digest('base64');
  return `${HASH_MAGIC}${salt.toString('base64')}|${mac}`;
}

/** `*` any run of characters, `?` any one; everything else literally. */
function globMatch(text: string, pattern: string): boolean {
  let t = 0;
  let p = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      t++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') {
    p++;
  }
  return p === pattern.length;
}

/**
 * OpenSSH's match_pattern_list: 1 when a pattern matches, -1 when a negated
 * pattern matches (which wins), 0 otherwise. `name` must be lower case.
 */
export function matchHostPatterns(
  name: string,
  patterns: readonly string[]
): -1 | 0 | 1 {
  let positive = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (globMatch(name, pattern)) {
      if (negated) {
        return -1;
      }
      positive = true;
    }
  }
  return positive ? 1 : 0;
}

// ---------------------------------------------------------------------------
// Parsing

export type KnownHostsMarker = 'none' | 'cert-authority' | 'revoked';

/** One usable line of a known_hosts file. */
export interface IKnownHostEntry {
  file: string;
  /** 1-based, as ssh and editors count. */
  line: number;
  marker: KnownHostsMarker;
  /** The host field as written. */
  hosts: string;
  /** The salt of a hashed host field; undefined for a pattern list. */
  salt?: Buffer;
  /** The comma-separated patterns of an unhashed host field. */
  patterns: string[];
  key: IPublicKey;
  /** From a GlobalKnownHostsFile: never written to. */
  readOnly: boolean;
}

export type KnownHostsWarningCode =
  'malformed-line' | 'unreadable-file' | 'cert-authority-unsupported';

export interface IKnownHostsWarning {
  code: KnownHostsWarningCode;
  file: string;
  line?: number;
  /** `file:line: what`, for the log. */
  message: string;
}

export interface IParsedKnownHosts {
  entries: IKnownHostEntry[];
  warnings: IKnownHostsWarning[];
}

const BASE64 =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeBase64(text: string, what: string): Buffer {
  if (text.length === 0 || !BASE64.test(text)) {
    throw new KeyFormatError(`${what} is not base64`);
  }
  return Buffer.from(text, 'base64');
}

const isBlank = (c: string | undefined) => c === ' ' || c === '\t';

/** Splits off the next run of non-blanks; `rest` starts after the blanks. */
function nextField(text: string): { field: string; rest: string } {
  let end = 0;
  while (end < text.length && !isBlank(text[end])) {
    end++;
  }
  let rest = end;
  while (isBlank(text[rest])) {
    rest++;
  }
  return { field: text.slice(0, end), rest: text.slice(rest) };
}

function parseLine(
  raw: string,
  file: string,
  line: number,
  readOnly: boolean
): IKnownHostEntry | undefined {
  let text = raw.replace(/\r$/, '').replace(/^[ \t]+/, '');
  if (text === '' || text.startsWith('#')) {
    return undefined;
  }
  let marker: KnownHostsMarker = 'none';
  if (text.startsWith('@')) {
    const { field, rest } = nextField(text);
    if (field === '@cert-authority') {
      marker = 'cert-authority';
    } else if (field === '@revoked') {
      marker = 'revoked';
    } else {
      throw new KeyFormatError(`unknown marker ${field.slice(0, 32)}`);
    }
    if (rest.startsWith('@')) {
      throw new KeyFormatError('more than one marker');
    }
    text = rest;
  }
  const host = nextField(text);
  if (host.rest === '' || host.rest.startsWith('#')) {
    throw new KeyFormatError('no key after the host names');
  }
  const type = nextField(host.rest);
  if (/^[0-9]+$/.test(type.field)) {
    throw new KeyFormatError('SSH-1 RSA keys are not supported');
  }
  if (type.rest === '') {
    throw new KeyFormatError(`no key data after ${type.field.slice(0, 64)}`);
  }
  const data = nextField(type.rest);
  const key = parsePublicKey(decodeBase64(data.field, 'key data'));
  if (key.keyType !== type.field) {
    throw new KeyFormatError(
      `line says ${type.field.slice(0, 64)} but the key is ${key.keyType}`
    );
  }

  let salt: Buffer | undefined;
  let patterns: string[] = [];
  if (host.field.startsWith('|')) {
    const parts = host.field.split('|');
    if (parts.length !== 4 || parts[1] !== '1') {
      throw new KeyFormatError('hashed host name is not |1|salt|hash');
    }
    salt = decodeBase64(parts[2], 'hashed host salt');
    if (
      salt.length !== SHA1_BYTES ||
      decodeBase64(parts[3], 'hashed host name').length !== SHA1_BYTES
    ) {
      throw new KeyFormatError('hashed host name has the wrong length');
    }
  } else {
    patterns = host.field.split(',');
  }
  return {
    file,
    line,
    marker,
    hosts: host.field,
    salt,
    patterns,
    key,
    readOnly
  };
}

/**
 * Parse the text of a known_hosts file. Malformed lines are skipped with a
 * warning naming file and line; parsing itself never throws.
 */
export function parseKnownHosts(
  text: string,
  file: string,
  options: { readOnly?: boolean } = {}
): IParsedKnownHosts {
  const entries: IKnownHostEntry[] = [];
  const warnings: IKnownHostsWarning[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    try {
      const entry = parseLine(raw, file, line, options.readOnly ?? false);
      if (entry) {
        entries.push(entry);
      }
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      warnings.push({
        code: 'malformed-line',
        file,
        line,
        message: `${file}:${line}: skipped: ${why}`
      });
    }
  });
  return { entries, warnings };
}

/** Whether an entry's host field matches a (lower-case) known_hosts name. */
export function entryMatches(entry: IKnownHostEntry, name: string): boolean {
  if (entry.salt) {
    return hashKnownHostsName(name, entry.salt) === entry.hosts;
  }
  return matchHostPatterns(name, entry.patterns) === 1;
}

/** Read and parse known_hosts files; a missing file simply has no entries. */
export async function readKnownHosts(
  files: readonly string[],
  globalFiles: readonly string[] = []
): Promise<IParsedKnownHosts> {
  const result: IParsedKnownHosts = { entries: [], warnings: [] };
  const all = [
    ...files.map(file => ({ file, readOnly: false })),
    ...globalFiles.map(file => ({ file, readOnly: true }))
  ];
  for (const { file, readOnly } of all) {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        result.warnings.push({
          code: 'unreadable-file',
          file,
          message: `${file}: not read: ${code ?? String(error)}`
        });
      }
      continue;
    }
    const parsed = parseKnownHosts(text, file, { readOnly });
    result.entries.push(...parsed.entries);
    result.warnings.push(...parsed.warnings);
  }
  return result;
}

// ---------------------------------------------------------------------------
// Checking

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
function offeredKey(key: Buffer, keyType?: string): IPublicKey {
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

// ---------------------------------------------------------------------------
// Errors and messages

export type HostKeyErrorCode =
  | 'host-key-unknown'
  | 'host-key-changed'
  | 'host-key-revoked'
  | 'host-key-invalid'
  | 'known-hosts-write-failed';

/** A refused host key or a failed known_hosts update, with a stable code. */
export class HostKeyError extends Error {
  constructor(
    readonly code: HostKeyErrorCode,
    message: string
  ) {
    super(message);
    this.name = 'HostKeyError';
  }
}

export interface IMessageOptions {
  /** Shown as `~`; the user's home directory by default. */
  home?: string;
}

function displayPath(file: string, home: string): string {
  return home && file.startsWith(home + '/')
    ? '~' + file.slice(home.length)
    : file;
}

function hostLabel(result: HostKeyProblem): string {
  const alias = result.hostKeyAlias
    ? `, HostKeyAlias ${result.hostKeyAlias}`
    : '';
  return `${result.host} (port ${result.port}${alias})`;
}

function removeCommand(
  result: HostKeyProblem,
  file: string,
  home: string
): string {
  const defaultFile = join(home, '.ssh', 'known_hosts');
  const fileArg = file === defaultFile ? '' : ` -f ${quoteArg(file)}`;
  return `ssh-keygen${fileArg} -R ${quoteArg(result.name)}`;
}

function keyText(key: IKeyDescription): string {
  return `${key.displayType} ${key.fingerprint}`;
}

/**
 * The sentence a user can act on for a key that is not known, has changed or
 * is revoked.
 */
export function hostKeyMessage(
  result: HostKeyProblem,
  options: IMessageOptions = {}
): string {
  const home = options.home ?? homedir();
  switch (result.status) {
    case 'changed': {
      const where = `${displayPath(result.file, home)} line ${result.line}`;
      const known =
        result.knownKeys.find(
          k => k.file === result.file && k.line === result.line
        ) ?? result.knownKeys[0];
      const fix = result.readOnly
        ? `ask its admins, who must also update ${where}`
        : `ask its admins, then remove the old line with \`${removeCommand(result, result.file, home)}\``;
      const head = result.sameType
        ? `Host key for ${hostLabel(result)} changed: the server offered ${keyText(result.offered)} but ${where} has ${known.fingerprint}.`
        : `Host key for ${hostLabel(result)} changed: the server offered ${keyText(result.offered)} but ${where} has a key of another type, ${keyText(known)}; ssh refuses this too.`;
      return `${head} This may be an attack, or the cluster was reinstalled; ${fix}.`;
    }
    case 'revoked':
      return (
        `Host key for ${hostLabel(result)} is revoked: the server offered ${keyText(result.offered)}, ` +
        `which ${displayPath(result.file, home)} line ${result.line} marks @revoked. Someone may be using a stolen key to impersonate the cluster; ` +
        'do not connect, and tell its admins.'
      );
    default: {
      const ssh =
        result.port === DEFAULT_SSH_PORT
          ? `ssh ${quoteArg(result.host)}`
          : `ssh -p ${result.port} ${quoteArg(result.host)}`;
      return (
        `Host key for ${hostLabel(result)} is not known and was not accepted: the server offered ` +
        `${keyText(result.offered)}. Compare it with the fingerprint the cluster's admins publish, ` +
        `then accept it when JupyterLab asks, or with \`${ssh}\` in a terminal.`
      );
    }
  }
}

/** The HostKeyError to throw for a key the user must not (or did not) accept. */
export function hostKeyError(
  result: HostKeyProblem,
  options: IMessageOptions = {}
): HostKeyError {
  const code: HostKeyErrorCode =
    result.status === 'changed'
      ? 'host-key-changed'
      : result.status === 'revoked'
        ? 'host-key-revoked'
        : 'host-key-unknown';
  return new HostKeyError(code, hostKeyMessage(result, options));
}

/**
 * The question for an unknown host, worded as ssh asks it:
 * "The authenticity of host 'hpc-gw1' can't be established.
 *  ED25519 key fingerprint is SHA256:…."
 */
export function unknownHostPrompt(result: IHostKeyUnknown): string {
  return (
    `The authenticity of host '${result.name}' can't be established.\n` +
    `${fingerprintLine(result.offered)}.\n` +
    'Are you sure you want to continue connecting?'
  );
}

// ---------------------------------------------------------------------------
// Appending

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

/**
 * Reading known_hosts files: `[@marker] hosts keytype base64 [comment]`
 * lines into entries, with a warning for each line ssh would skip, and
 * whether an entry is for a host name (patterns or a hashed name).
 */
import { promises as fs } from 'fs';

import { matchPatternList } from './host-patterns';
import { KeyFormatError, parsePublicKey } from './known-hosts-keys';
import type { IPublicKey } from './known-hosts-keys';
import { hashKnownHostsName, SHA1_BYTES } from './known-hosts-names';

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
  return matchPatternList(name, entry.patterns, true) === 1;
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

/**
 * What each ssh_config keyword does to the options, one handler a keyword
 * (readconf.c `process_config_line`): its value is checked whether or not
 * the line applies, as OpenSSH does, and stored when the line applies and
 * no value was obtained before. Host, Match and Include steer the reading
 * itself and are the resolution's (config.ts).
 */
import { SshConfigError, ISshConfigLocation } from './config-errors';
import { IJumpHop, parseProxyJump } from './config-jump';
import type { ObtainedOptions } from './config-options';
import {
  ACCUMULATING_KEYWORDS,
  IConfigLine,
  OPENSSH_PASSTHROUGH_KEYWORDS,
  parseCount,
  parseFlag,
  parsePort,
  parseTime
} from './config-syntax';
import type { StrictHostKeyChecking } from './config-types';

/** One directive line, as a keyword handler sees it. */
export interface IKeywordLine {
  /** The keyword as KEYWORDS spells it. */
  name: string;
  line: IConfigLine;
  location: ISshConfigLocation;
  /** Whether the line's Host/Match block applies. */
  active: boolean;
  /** From the system config (IdentityFile keeps its origin). */
  system: boolean;
}

type KeywordHandler = (o: ObtainedOptions, at: IKeywordLine) => void;

/** Apply a line of a keyword other than Host, Match and Include. */
export function applyKeyword(o: ObtainedOptions, at: IKeywordLine): void {
  (KEYWORD_HANDLERS[at.name] ?? otherKeyword)(o, at);
}

const STRICT_VALUES: Record<string, StrictHostKeyChecking> = {
  yes: 'yes',
  true: 'yes',
  no: 'no',
  false: 'no',
  off: 'no',
  ask: 'ask',
  'accept-new': 'accept-new'
};

/** Store with `set` if the line applies and `keyword` has no value yet. */
function obtain(
  o: ObtainedOptions,
  at: IKeywordLine,
  set: () => void,
  keyword = at.name
): void {
  if (at.active && !o.obtained.has(keyword)) {
    o.obtained.add(keyword);
    set();
    o.addSource(o.sourceLine(at.location, at.line));
  }
}

/** The one argument of a single-valued keyword (OpenSSH parse_string). */
function single(o: ObtainedOptions, at: IKeywordLine): string {
  const { line, location, name } = at;
  if (line.args.length === 0 || line.args[0] === '') {
    throw new SshConfigError(
      'ssh-config-syntax',
      `${o.where(location)}: ${name} needs a value.`,
      location
    );
  }
  if (line.args.length > 1) {
    throw new SshConfigError(
      'ssh-config-syntax',
      `${o.where(location)}: ${name} takes one value, not ` +
        `${line.args.length} ("${line.rest}"). Put quotes around a value ` +
        'with spaces.',
      location
    );
  }
  return line.args[0];
}

/** UserKnownHostsFile / GlobalKnownHostsFile arguments. */
function fileList(o: ObtainedOptions, at: IKeywordLine): string[] {
  const { line, location, name } = at;
  const files = line.args;
  if (files.length === 0 || files.includes('')) {
    throw new SshConfigError(
      'ssh-config-syntax',
      `${o.where(location)}: ${name} needs file names.`,
      location
    );
  }
  if (files.length > 1 && files.some(f => f.toLowerCase() === 'none')) {
    throw o.badValue(location, `"none" must be the only ${name}`);
  }
  if (files.length > 32) {
    throw o.badValue(location, `more than 32 files in ${name}`);
  }
  return files;
}

/** The rest of the line as OpenSSH keeps it for ProxyCommand/ProxyJump. */
function rest(at: IKeywordLine): string {
  return at.line.rest.replace(/^[ \t\r\n=]+/, '');
}

/** ServerAliveInterval and ConnectTimeout: a time, or `none`. */
function time(
  store: (o: ObtainedOptions, seconds: number) => void
): KeywordHandler {
  return (o, at) => {
    const text = single(o, at);
    // "none" obtains nothing: a later line may still set a value.
    const value = text === 'none' ? undefined : parseTime(text);
    if (value === null) {
      throw o.badValue(
        at.location,
        `${at.name} "${text}" is not a time (e.g. 30, 30s, 5m)`
      );
    }
    if (value !== undefined) {
      obtain(o, at, () => store(o, value));
    }
  };
}

const KEYWORD_HANDLERS: Record<string, KeywordHandler> = {
  HostName: (o, at) => {
    const value = single(o, at);
    obtain(o, at, () => (o.hostName = { value, location: at.location }));
  },
  User: (o, at) => {
    const value = single(o, at);
    obtain(o, at, () => {
      o.user = { value, location: at.location };
      o.userFromConfig = true;
    });
  },
  Port: (o, at) => {
    const text = single(o, at);
    const value = parsePort(text);
    if (value === null) {
      throw new SshConfigError(
        'ssh-config-bad-port',
        `${o.where(at.location)}: Port "${text}" is not a port number ` +
          '(1-65535). Fix or remove the line.',
        at.location
      );
    }
    obtain(o, at, () => (o.port = value));
  },
  HostKeyAlias: (o, at) => {
    const value = single(o, at);
    obtain(o, at, () => (o.hostKeyAlias = value));
  },
  Tag: (o, at) => {
    const value = single(o, at);
    obtain(o, at, () => (o.tag = value));
  },
  IgnoreUnknown: (o, at) => {
    const value = single(o, at);
    obtain(o, at, () => (o.ignoreUnknown = value));
  },
  IdentityFile: (o, at) => {
    const path = single(o, at);
    const userProvided = !at.system;
    const known = o.identities.some(
      i => i.path === path && i.userProvided === userProvided
    );
    if (at.active && !known) {
      if (o.identities.length >= 100) {
        throw o.badValue(at.location, 'more than 100 identity files');
      }
      o.identities.push({ path, userProvided, location: at.location });
      o.addSource(o.sourceLine(at.location, at.line));
    }
  },
  IdentitiesOnly: (o, at) => {
    const text = single(o, at);
    const value = parseFlag(text);
    if (value === null) {
      throw o.badValue(at.location, `${at.name} must be yes or no`);
    }
    obtain(o, at, () => (o.identitiesOnly = value));
  },
  ProxyCommand: (o, at) => {
    // OpenSSH keeps the rest of the line as it is.
    const value = rest(at);
    obtain(o, at, () => (o.proxyCommand = { value, location: at.location }));
  },
  ProxyJump: (o, at) => {
    let hops: IJumpHop[];
    try {
      hops = parseProxyJump(rest(at));
    } catch (err) {
      throw new SshConfigError(
        'ssh-config-bad-proxyjump',
        `${o.where(at.location)}: ${(err as Error).message}`,
        at.location
      );
    }
    if (hops.length === 0) {
      // `ProxyJump none` only settles ProxyJump: a later ProxyCommand
      // still applies (OpenSSH 10.3, backported by distributions;
      // older ssh ignored that ProxyCommand).
      obtain(o, at, () => (o.jump = { value: hops, location: at.location }));
    } else if (!o.obtained.has('ProxyCommand')) {
      // Hosts settle ProxyCommand too: whichever comes first wins.
      obtain(o, at, () => {
        o.jump = { value: hops, location: at.location };
        o.obtained.add('ProxyCommand');
      });
    }
  },
  ServerAliveInterval: time((o, seconds) => (o.serverAliveInterval = seconds)),
  ConnectTimeout: time((o, seconds) => (o.connectTimeout = seconds)),
  ServerAliveCountMax: (o, at) => {
    const text = single(o, at);
    const value = parseCount(text);
    if (value === null) {
      throw o.badValue(at.location, `${at.name} "${text}" is not a number`);
    }
    obtain(o, at, () => (o.serverAliveCountMax = value));
  },
  StrictHostKeyChecking: (o, at) => {
    const text = single(o, at);
    const value = STRICT_VALUES[text.toLowerCase()];
    if (value === undefined) {
      throw o.badValue(
        at.location,
        `${at.name} must be yes, no, ask or accept-new, not "${text}"`
      );
    }
    obtain(o, at, () => (o.strictHostKeyChecking = value));
  },
  CanonicalizeHostname: (o, at) => {
    const text = single(o, at).toLowerCase();
    const flag = parseFlag(text);
    if (text !== 'always' && flag === null) {
      throw o.badValue(
        at.location,
        `${at.name} must be yes, no or always, not "${text}"`
      );
    }
    obtain(o, at, () => (o.canonicalize = flag !== false ? at.location : null));
  },
  UserKnownHostsFile: (o, at) => {
    const value = fileList(o, at);
    obtain(o, at, () => (o.userKnownHosts = { value, location: at.location }));
  },
  GlobalKnownHostsFile: (o, at) => {
    const value = fileList(o, at);
    obtain(o, at, () => (o.globalKnownHosts = value));
  }
};

/**
 * Keywords the built-in client does not use: in `source` when they take
 * effect, so the UI can show every line that applies; those OpenSSH uses
 * also in `opensshOptions`, as written.
 */
function otherKeyword(o: ObtainedOptions, at: IKeywordLine): void {
  const option = OPENSSH_PASSTHROUGH_KEYWORDS.has(at.name)
    ? `${at.name}=${at.line.rest}`
    : null;
  if (ACCUMULATING_KEYWORDS.has(at.name)) {
    if (at.active) {
      o.addSource(o.sourceLine(at.location, at.line));
      if (option) {
        o.opensshOptions.push(option);
      }
    }
  } else {
    obtain(o, at, () => {
      if (option) {
        o.opensshOptions.push(option);
      }
    });
  }
}

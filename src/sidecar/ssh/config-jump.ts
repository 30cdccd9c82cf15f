/**
 * ProxyJump specifications (readconf.c `parse_jump`, misc.c
 * `parse_user_host_port`, `parse_uri`) and OpenSSH's checks of host and user
 * names given on the command line (readconf.c `ssh_valid_hostname`,
 * `ssh_valid_ruser`), which apply to what comes from our settings.
 */
import { SshConfigError } from './config-errors';
import { parsePort, splitArguments } from './config-syntax';

/** One hop of a ProxyJump: `[user@]host[:port]` or `ssh://[user@]host[:port]`. */
export interface IJumpHop {
  /** A host name or an alias, resolved through ssh_config in its turn. */
  host: string;
  /** Given in the hop; overrides the hop's own User (like `ssh -l`). */
  user?: string;
  /** Given in the hop; overrides the hop's own Port (like `ssh -p`). */
  port?: number;
}

/**
 * OpenSSH's `ssh_valid_hostname`: not empty, no leading `-`, no blanks,
 * control characters or characters special to shells (`'"$\;&<>|(){},` and
 * the backquote). OpenSSH applies it to host names from the command line;
 * we apply it to everything taken from settings.
 */
export function isValidHostName(s: string): boolean {
  return (
    s !== '' &&
    !s.startsWith('-') &&
    !hasControlCharacter(s) &&
    !/[\s'`"$\\;&<>|(){},]/.test(s)
  );
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) {
      return true;
    }
  }
  return false;
}

/** OpenSSH's `ssh_valid_ruser`, for user names from settings. */
export function isValidUserName(s: string): boolean {
  return (
    s !== '' &&
    !s.startsWith('-') &&
    !hasControlCharacter(s) &&
    !/['`";&<>|(){}]/.test(s) &&
    !/\s-/.test(s) &&
    !s.endsWith('\\')
  );
}

/**
 * Parse a ProxyJump value into its hops, first hop (the one connected to
 * first) first. `none` gives no hops. A `#` ends the value, as in OpenSSH.
 * `strict` also applies OpenSSH's command-line checks of host and user
 * names (use it for values from settings). Throws
 * `ssh-config-bad-proxyjump`.
 */
export function parseProxyJump(spec: string, strict = false): IJumpHop[] {
  const value = spec.split('#')[0].replace(/\s+$/, '');
  if (spec.trim().toLowerCase() === 'none') {
    return [];
  }
  const bad = (reason: string) =>
    new SshConfigError(
      'ssh-config-bad-proxyjump',
      `ProxyJump "${spec}": ${reason}. Write jump hosts as [user@]host[:port], ` +
        'several separated by commas.'
    );
  if (value === '') {
    throw bad('no jump host is given');
  }
  return value.split(',').map(text => {
    const hop = parseHop(text);
    if (typeof hop === 'string') {
      throw bad(hop);
    }
    if (strict && !isValidHostName(hop.host)) {
      throw bad(`"${hop.host}" is not a valid host name`);
    }
    if (strict && hop.user !== undefined && !isValidUserName(hop.user)) {
      throw bad(`"${hop.user}" is not a valid user name`);
    }
    return hop;
  });
}

/** A hop, or why it cannot be read. */
function parseHop(text: string): IJumpHop | string {
  if (text === '') {
    return 'a jump host is empty';
  }
  const uri = text.startsWith('ssh://');
  let rest = uri ? text.slice('ssh://'.length) : text;
  let user: string | undefined;
  // A URI's user ends at the first '@' (and may carry ";params"); a plain
  // hop's at the last one.
  const at = uri ? rest.indexOf('@') : rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    if (uri) {
      user = user.split(';')[0];
      try {
        user = decodeURIComponent(user);
      } catch {
        return `the user in "${text}" is not URL-encoded correctly`;
      }
    }
    if (user === '') {
      return `"${text}" has an empty user name`;
    }
    rest = rest.slice(at + 1);
  }
  // host, [host] (IPv6), then ':port' (or '/…' in OpenSSH's grammar).
  let host: string;
  let after: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) {
      return `"${text}" has a "[" without "]"`;
    }
    host = rest.slice(1, close);
    after = rest.slice(close + 1);
    if (after !== '' && after[0] !== ':' && after[0] !== '/') {
      return `"${text}" has text after "]"`;
    }
  } else {
    const delim = rest.search(/[:/]/);
    host = delim < 0 ? rest : rest.slice(0, delim);
    after = delim < 0 ? '' : rest.slice(delim);
  }
  if (host === '') {
    return `"${text}" has no host name`;
  }
  let port: number | undefined;
  if (after.length > 1) {
    let portText = after.slice(1);
    if (uri) {
      if (after[0] !== ':') {
        return `"${text}" has a path, which ProxyJump does not allow`;
      }
      const slash = portText.indexOf('/');
      if (slash >= 0) {
        if (portText.slice(slash + 1) !== '') {
          return `"${text}" has a path, which ProxyJump does not allow`;
        }
        portText = portText.slice(0, slash);
      }
    }
    const parsed = parsePort(portText);
    if (parsed === null) {
      return `"${portText}" in "${text}" is not a port number (1-65535)`;
    }
    port = parsed;
  }
  const hop: IJumpHop = { host };
  if (user !== undefined) {
    hop.user = user;
  }
  if (port !== undefined) {
    hop.port = port;
  }
  return hop;
}

/** The hops as a ProxyJump value, e.g. `gw1,ana@gw2:2222`. */
export function formatProxyJump(hops: readonly IJumpHop[]): string {
  return hops
    .map(hop => {
      const host = hop.host.includes(':') ? `[${hop.host}]` : hop.host;
      return `${hop.user !== undefined ? hop.user + '@' : ''}${host}${
        hop.port !== undefined ? ':' + hop.port : ''
      }`;
    })
    .join(',');
}

/** ssh options without an argument that do not change where it connects. */
const HARMLESS_SSH_FLAGS = new Set([
  '4',
  '6',
  'a',
  'C',
  'N',
  'q',
  'T',
  'v',
  'x'
]);

/**
 * The jump host that a ProxyCommand stands for when all it does is run ssh
 * to reach `%h:%p` through one gateway:
 *
 * - `ssh [-q …] [-l user] [-p port] -W %h:%p [user@]gateway` (also with
 *   `[%h]:%p`, options after the gateway, a leading `exec`);
 * - `ssh [-q …] [user@]gateway [exec] nc %h %p` (or netcat), the form of the
 *   cluster tutorial.
 *
 * Such a command means the same as `ProxyJump [user@]gateway[:port]`, which
 * a connection can do in-process (and so ask for the gateway's password
 * itself). Null for anything else: other options (-i, -o, -F, -J…), other
 * programs, tokens in the gateway's name, a remote command other than nc.
 */
export function sshProxyCommandHop(command: string): IJumpHop | null {
  const args = splitArguments(command);
  if (args === null) {
    return null;
  }
  if (args[0] === 'exec') {
    args.shift();
  }
  if (!/^(\/usr(\/local)?)?(\/bin\/)?ssh$/.test(args.shift() ?? '')) {
    return null;
  }
  let user: string | undefined;
  let port: number | undefined;
  let destination: string | undefined;
  let forward = false;
  const rest: string[] = [];
  while (args.length > 0) {
    const arg = args.shift()!;
    if (destination !== undefined && !arg.startsWith('-')) {
      rest.push(arg, ...args);
      break;
    }
    if (!arg.startsWith('-')) {
      destination = arg;
      continue;
    }
    const flag = arg[1];
    if (flag === 'l' || flag === 'p' || flag === 'W') {
      const value = arg.length > 2 ? arg.slice(2) : args.shift();
      if (value === undefined) {
        return null;
      }
      if (flag === 'l') {
        user = value;
      } else if (flag === 'p') {
        const parsed = parsePort(value);
        if (parsed === null) {
          return null;
        }
        port = parsed;
      } else if (value === '%h:%p' || value === '[%h]:%p') {
        forward = true;
      } else {
        return null;
      }
    } else if (![...arg.slice(1)].every(c => HARMLESS_SSH_FLAGS.has(c))) {
      return null;
    }
  }
  if (destination === undefined || /[%$,]/.test(destination)) {
    return null;
  }
  if (rest[0] === 'exec') {
    rest.shift();
  }
  const isNc =
    rest.length === 3 &&
    /^(\/usr\/bin\/|\/bin\/)?(nc|netcat|ncat)$/.test(rest[0]) &&
    rest[1] === '%h' &&
    rest[2] === '%p';
  if (forward ? rest.length > 0 : !isNc) {
    return null;
  }
  let hop: IJumpHop;
  try {
    [hop] = parseProxyJump(destination);
  } catch {
    return null;
  }
  if (hop === undefined || (hop.user !== undefined && user !== undefined)) {
    return null;
  }
  if (user !== undefined) {
    hop.user = user;
  }
  if (port !== undefined) {
    if (hop.port !== undefined) {
      return null;
    }
    hop.port = port;
  }
  return hop;
}

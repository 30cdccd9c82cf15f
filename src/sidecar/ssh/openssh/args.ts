/**
 * The argv of the OpenSSH processes that carry a cluster's connection when
 * its `sshClient` is OpenSSH (see master.ts). The route comes from our own
 * resolver (config.ts), which the settings panel shows and which honours the
 * sidecar's $HOME, so ssh is started with `-F none` and every option spelt
 * out: the same hosts, keys, known_hosts files and ProxyCommand as the
 * built-in client would use. Jump hosts become nested ProxyCommands, one
 * `ssh -W` per hop, so each hop gets its own options too (plain `-J` would
 * hand the hops to ssh's own config reading).
 */
import type { IResolvedHost } from '../config';
import {
  DEFAULT_CONNECT_TIMEOUT_SECONDS,
  DEFAULT_KEEPALIVE_SECONDS
} from '../defaults';
import { quoteArg, quoteCommand } from '../../shell/quote';

/**
 * OpenSSH's own cipher list with AES-GCM moved first, as the built-in client
 * (ssh2) orders it: with AES instructions, which x86-64 and ARMv8 servers
 * and laptops have, AES-GCM moves bulk data faster than ChaCha20-Poly1305
 * at the same strength. Only the order changes; the server still chooses
 * among what both sides offer.
 */
export const CIPHER_PREFERENCE =
  'aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr';

/** OpenSSH expands `%` tokens in these options: a literal `%` is `%%`. */
function literal(s: string): string {
  return s.replace(/%/g, '%%');
}

/**
 * A path as one word of an `-o` value: ssh splits values into words,
 * honouring double quotes. A path holding a quote, backslash or newline
 * cannot be said that way and is refused. `expands`: whether ssh expands
 * `%` tokens in this option.
 */
function pathWord(path: string, what: string, expands: boolean): string {
  if (/["\\\n\r]/.test(path)) {
    throw new Error(
      `The ${what} path ${JSON.stringify(path)} holds a quote, backslash or newline, which OpenSSH cannot be given.`
    );
  }
  return `"${expands ? literal(path) : path}"`;
}

/** A file list for an `-o` option; `none` when empty. */
function fileList(
  files: readonly string[],
  what: string,
  expands: boolean
): string {
  if (files.length === 0) {
    return 'none';
  }
  return files.map(f => pathWord(f, what, expands)).join(' ');
}

/**
 * The ProxyCommand of the first hop as OpenSSH runs it: through the shell,
 * `exec`ed. Tokens were expanded by our resolver already.
 */
function firstHopProxyCommand(host: IResolvedHost): string | null {
  const argv = host.proxyCommand;
  if (!argv) {
    return null;
  }
  if (argv.length === 3 && argv[1] === '-c' && argv[2].startsWith('exec ')) {
    return literal(argv[2].slice('exec '.length));
  }
  return literal(quoteCommand(argv));
}

export interface IHostArgsOptions {
  /** The ssh program (for the ProxyCommands of jump hosts). */
  ssh: string;
  /** Whether a key file exists: the resolver lists candidates. */
  exists: (path: string) => boolean;
}

/** `-o` options that make one hop of `route` what our resolver says it is. */
function hostOptions(
  route: readonly IResolvedHost[],
  index: number,
  options: IHostArgsOptions
): string[] {
  const host = route[index];
  const args = [
    '-F',
    'none',
    // The user's own lines first: ssh keeps the first value it is given,
    // so their Ciphers, say, win over our preference below.
    ...host.opensshOptions.flatMap(option => ['-o', option]),
    '-o',
    `HostName=${literal(host.hostName)}`,
    '-o',
    `Port=${host.port}`,
    // -l, not `-o User=`: from OpenSSH 10 a User option expands tokens.
    '-l',
    host.user,
    '-o',
    `IdentitiesOnly=${host.identitiesOnly ? 'yes' : 'no'}`,
    '-o',
    `UserKnownHostsFile=${fileList(host.userKnownHostsFiles, 'known_hosts', true)}`,
    '-o',
    `GlobalKnownHostsFile=${fileList(host.globalKnownHostsFiles, 'known_hosts', false)}`,
    '-o',
    `StrictHostKeyChecking=${host.strictHostKeyChecking}`,
    '-o',
    `ServerAliveInterval=${host.serverAliveInterval || DEFAULT_KEEPALIVE_SECONDS}`,
    '-o',
    `ServerAliveCountMax=${host.serverAliveCountMax}`,
    '-o',
    `ConnectTimeout=${host.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_SECONDS}`,
    '-o',
    `Ciphers=${CIPHER_PREFERENCE}`,
    '-o',
    'NumberOfPasswordPrompts=3',
    '-o',
    'BatchMode=no',
    '-o',
    'CheckHostIP=no',
    '-o',
    'UpdateHostKeys=no',
    '-o',
    'ForwardAgent=no',
    '-o',
    'ForwardX11=no',
    '-o',
    'PermitLocalCommand=no',
    '-o',
    'EscapeChar=none'
  ];
  if (host.hostKeyAlias) {
    args.push('-o', `HostKeyAlias=${host.hostKeyAlias}`);
  }
  const files = host.identityFiles.filter(options.exists);
  if (files.length === 0) {
    args.push('-o', 'IdentityFile=none');
  }
  for (const file of files) {
    // Not `-i`: ssh checks that path before expanding its tokens.
    args.push('-o', `IdentityFile=${pathWord(file, 'identity file', true)}`);
  }
  const proxy =
    index === 0
      ? firstHopProxyCommand(host)
      : jumpProxyCommand(route, index - 1, options);
  if (proxy) {
    args.push('-o', `ProxyCommand=${proxy}`);
  }
  return args;
}

/**
 * `ssh <options of hop i> -W [%h]:%p -- <alias>`, as a ProxyCommand line of
 * the hop after it: quoted for the shell, `%` doubled except in `-W`'s
 * target, which the next hop fills in.
 */
function jumpProxyCommand(
  route: readonly IResolvedHost[],
  index: number,
  options: IHostArgsOptions
): string {
  const words = [
    options.ssh,
    ...hostOptions(route, index, options),
    '-o',
    'ControlMaster=no',
    '-o',
    'ControlPath=none',
    '-T',
    '-W'
  ].map(w => literal(quoteArg(w)));
  const alias = route[index].alias;
  return [...words, "'[%h]:%p'", '--', literal(quoteArg(alias))].join(' ');
}

/** The argv (without the program) of the master of `route`. */
export function masterArgs(
  route: readonly IResolvedHost[],
  controlPath: string,
  options: IHostArgsOptions
): string[] {
  const last = route.length - 1;
  return [
    ...hostOptions(route, last, options),
    '-o',
    'ControlMaster=yes',
    '-o',
    `ControlPath=${pathWord(controlPath, 'control socket', true)}`,
    '-o',
    'ControlPersist=no',
    '-o',
    'ExitOnForwardFailure=no',
    '-N',
    '-T',
    '-n',
    '--',
    route[last].alias
  ];
}

/**
 * Options of every client of the master: the control socket only. Should
 * the master be gone, ssh would fall back to a connection of its own;
 * `ProxyCommand=false` makes that fall back fail at once instead.
 */
export function muxArgs(controlPath: string): string[] {
  return [
    '-F',
    'none',
    '-o',
    'ControlMaster=no',
    '-o',
    `ControlPath=${pathWord(controlPath, 'control socket', true)}`,
    '-o',
    'BatchMode=yes',
    '-o',
    'ProxyCommand=false',
    '-o',
    'EscapeChar=none'
  ];
}

/** The destination word for mux clients (unused by the master but required). */
export const MUX_DESTINATION = 'cluster';

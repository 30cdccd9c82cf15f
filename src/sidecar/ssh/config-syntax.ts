/**
 * The syntax of one ssh_config line, as OpenSSH reads it (readconf.c
 * `process_config_line_depth`, misc.c `argv_split`, `convtime`, `a2port`).
 *
 * Each line is parsed by the `ssh-config` package (the maintained parser the
 * project uses) and must pass it. OpenSSH has no multi-line constructs, so
 * the text is split into lines first and every line is parsed on its own: the
 * line numbers in errors and in `source` are then exact. The arguments are
 * then split with OpenSSH's own rules, because `ssh-config` tokenises for
 * round-tripping and its values differ from what ssh uses in ways that
 * change results: `HostName a b` (an error in OpenSSH, one value there),
 * single quotes, `\ ` escapes, `#` inside a word, and ProxyCommand, which
 * OpenSSH takes verbatim from the rest of the line.
 */
import { LineType, parse as parseSshConfig } from 'ssh-config';

import {
  describeLocation,
  ISshConfigLocation,
  SshConfigError
} from './config-errors';

/** One directive line of a config file. */
export interface IConfigLine {
  /** The keyword in lower case, e.g. `hostname`. */
  keyword: string;
  /** The arguments split as OpenSSH's `argv_split` does. */
  args: string[];
  /**
   * The argument text after the keyword and its separator (whitespace or
   * `=`), verbatim: what OpenSSH stores for ProxyCommand and parses for
   * ProxyJump.
   */
  rest: string;
  /** The whole line without surrounding whitespace, for `source`. */
  text: string;
  /** 1-based line number. */
  line: number;
}

/**
 * Split an argument string like OpenSSH's `argv_split(s, …, 1)`: words
 * separated by blanks, `"` and `'` quoting, `\` escaping a quote, a
 * backslash or (outside quotes) a blank, and a `#` at the start of a word
 * ending the line. Returns null for an unterminated quote.
 */
export function splitArguments(s: string): string[] | null {
  const args: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '#') {
      break;
    }
    let quote = '';
    let arg = '';
    for (; i < s.length; i++) {
      const ch = s[i];
      const next = s[i + 1];
      if (ch === '\\') {
        if (
          next === "'" ||
          next === '"' ||
          next === '\\' ||
          (quote === '' && next === ' ')
        ) {
          i++;
          arg += next;
        } else {
          arg += ch;
        }
      } else if (quote === '' && (ch === ' ' || ch === '\t')) {
        break;
      } else if (quote === '' && (ch === '"' || ch === "'")) {
        quote = ch;
      } else if (quote !== '' && ch === quote) {
        quote = '';
      } else {
        arg += ch;
      }
    }
    if (quote !== '') {
      return null;
    }
    args.push(arg);
  }
  return args;
}

const WHITESPACE = ' \t\r\n';

function skip(s: string, i: number, chars: string): number {
  while (i < s.length && chars.includes(s[i])) {
    i++;
  }
  return i;
}

/**
 * Parse the text of one config file into its directive lines. Comments and
 * blank lines are dropped. Throws `ssh-config-syntax` for a line OpenSSH
 * would refuse before looking at its keyword: no argument, bad quotes.
 */
export function parseConfigText(
  text: string,
  file: string,
  home: string
): IConfigLine[] {
  const lines: IConfigLine[] = [];
  const raw = text.split('\n');
  for (let n = 0; n < raw.length; n++) {
    const parsed = parseConfigLine(raw[n], { file, line: n + 1 }, home);
    if (parsed) {
      lines.push(parsed);
    }
  }
  return lines;
}

function parseConfigLine(
  raw: string,
  location: ISshConfigLocation,
  home: string
): IConfigLine | null {
  // OpenSSH strips trailing whitespace (and a form feed), then reads the
  // keyword up to a blank, a quote or '='.
  const text = raw.replace(/[ \t\r\n\f]+$/, '').replace(/^[ \t\r\n]+/, '');
  if (text === '' || text.startsWith('#')) {
    return null;
  }
  const syntax = (message: string): SshConfigError =>
    new SshConfigError(
      'ssh-config-syntax',
      `${describeLocation(location, home)}: ${message}`,
      location
    );
  const keywordText = /^[^ \t\r\n"=]*/.exec(text)![0];
  if (keywordText === '') {
    throw syntax(`expected a keyword, found "${text}".`);
  }
  // After the keyword: blanks, at most one '=', blanks.
  let i = skip(text, keywordText.length, WHITESPACE);
  if (text[i] === '=') {
    i = skip(text, i + 1, WHITESPACE);
  }
  const rest = text.slice(i);
  if (rest === '') {
    throw syntax(`"${keywordText}" needs a value.`);
  }

  // The maintained parser must accept the line…
  let param: string | undefined;
  try {
    const nodes = parseSshConfig(text);
    const node = nodes.find(n => n.type === LineType.DIRECTIVE);
    param = node && 'param' in node ? node.param : undefined;
  } catch (err) {
    // …except for Match lines, whose criteria it checks more strictly than
    // OpenSSH does (it wants a value after `!final`); OpenSSH's own rules
    // for Match are applied by the resolver.
    if (keywordText.toLowerCase() !== 'match') {
      throw syntax(parserMessage(keywordText, err));
    }
    param = keywordText;
  }
  if (param !== keywordText) {
    throw syntax(`cannot read the keyword "${keywordText}".`);
  }
  // …and OpenSSH's argument splitting too ("invalid quotes").
  const args = splitArguments(rest);
  if (args === null) {
    throw syntax(`a quote is not closed in "${text}".`);
  }
  return {
    keyword: keywordText.toLowerCase(),
    args,
    rest,
    text,
    line: location.line
  };
}

function parserMessage(keyword: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/^Unexpected line break/.test(message)) {
    return `a quote or a backslash at the end of the ${keyword} line is not closed.`;
  }
  return `the ${keyword} line cannot be parsed (${message}).`;
}

/**
 * The client keywords of OpenSSH 10 (readconf.c `keywords[]`), with the
 * vendor additions seen in the wild (Debian's GSSAPI key exchange, Apple's
 * UseKeychain), lower case → the spelling of ssh_config(5). Aliases map to
 * the keyword they stand for. Deprecated and unsupported keywords are
 * listed: OpenSSH only warns about them.
 */
export const KEYWORDS: Readonly<Record<string, string>> = {
  addkeystoagent: 'AddKeysToAgent',
  addressfamily: 'AddressFamily',
  afstokenpassing: 'AFSTokenPassing',
  batchmode: 'BatchMode',
  bindaddress: 'BindAddress',
  bindinterface: 'BindInterface',
  canonicaldomains: 'CanonicalDomains',
  canonicalizefallbacklocal: 'CanonicalizeFallbackLocal',
  canonicalizehostname: 'CanonicalizeHostname',
  canonicalizemaxdots: 'CanonicalizeMaxDots',
  canonicalizepermittedcnames: 'CanonicalizePermittedCNAMEs',
  casignaturealgorithms: 'CASignatureAlgorithms',
  certificatefile: 'CertificateFile',
  challengeresponseauthentication: 'KbdInteractiveAuthentication',
  channeltimeout: 'ChannelTimeout',
  checkhostip: 'CheckHostIP',
  cipher: 'Cipher',
  ciphers: 'Ciphers',
  clearallforwardings: 'ClearAllForwardings',
  compression: 'Compression',
  compressionlevel: 'CompressionLevel',
  connectionattempts: 'ConnectionAttempts',
  connecttimeout: 'ConnectTimeout',
  controlmaster: 'ControlMaster',
  controlpath: 'ControlPath',
  controlpersist: 'ControlPersist',
  dsaauthentication: 'PubkeyAuthentication',
  dynamicforward: 'DynamicForward',
  enableescapecommandline: 'EnableEscapeCommandline',
  enablesshkeysign: 'EnableSSHKeysign',
  escapechar: 'EscapeChar',
  exitonforwardfailure: 'ExitOnForwardFailure',
  fallbacktorsh: 'FallBackToRsh',
  fingerprinthash: 'FingerprintHash',
  forkafterauthentication: 'ForkAfterAuthentication',
  forwardagent: 'ForwardAgent',
  forwardx11: 'ForwardX11',
  forwardx11timeout: 'ForwardX11Timeout',
  forwardx11trusted: 'ForwardX11Trusted',
  gatewayports: 'GatewayPorts',
  globalknownhostsfile: 'GlobalKnownHostsFile',
  globalknownhostsfile2: 'GlobalKnownHostsFile2',
  gssapiauthentication: 'GSSAPIAuthentication',
  gssapiclientidentity: 'GSSAPIClientIdentity',
  gssapidelegatecredentials: 'GSSAPIDelegateCredentials',
  gssapikexalgorithms: 'GSSAPIKexAlgorithms',
  gssapikeyexchange: 'GSSAPIKeyExchange',
  gssapirenewalforcesrekey: 'GSSAPIRenewalForcesRekey',
  gssapiserveridentity: 'GSSAPIServerIdentity',
  gssapitrustdns: 'GSSAPITrustDns',
  hashknownhosts: 'HashKnownHosts',
  host: 'Host',
  hostbasedacceptedalgorithms: 'HostbasedAcceptedAlgorithms',
  hostbasedauthentication: 'HostbasedAuthentication',
  hostbasedkeytypes: 'HostbasedAcceptedAlgorithms',
  hostkeyalgorithms: 'HostKeyAlgorithms',
  hostkeyalias: 'HostKeyAlias',
  hostname: 'HostName',
  identitiesonly: 'IdentitiesOnly',
  identityagent: 'IdentityAgent',
  identityfile: 'IdentityFile',
  identityfile2: 'IdentityFile',
  ignoreunknown: 'IgnoreUnknown',
  include: 'Include',
  ipqos: 'IPQoS',
  kbdinteractiveauthentication: 'KbdInteractiveAuthentication',
  kbdinteractivedevices: 'KbdInteractiveDevices',
  keepalive: 'TCPKeepAlive',
  kerberosauthentication: 'KerberosAuthentication',
  kerberostgtpassing: 'KerberosTGTPassing',
  kexalgorithms: 'KexAlgorithms',
  knownhostscommand: 'KnownHostsCommand',
  localcommand: 'LocalCommand',
  localforward: 'LocalForward',
  loglevel: 'LogLevel',
  logverbose: 'LogVerbose',
  macs: 'MACs',
  match: 'Match',
  nohostauthenticationforlocalhost: 'NoHostAuthenticationForLocalhost',
  numberofpasswordprompts: 'NumberOfPasswordPrompts',
  obscurekeystroketiming: 'ObscureKeystrokeTiming',
  passwordauthentication: 'PasswordAuthentication',
  permitlocalcommand: 'PermitLocalCommand',
  permitremoteopen: 'PermitRemoteOpen',
  pkcs11provider: 'PKCS11Provider',
  port: 'Port',
  preferredauthentications: 'PreferredAuthentications',
  protocol: 'Protocol',
  proxycommand: 'ProxyCommand',
  proxyjump: 'ProxyJump',
  proxyusefdpass: 'ProxyUseFdpass',
  pubkeyacceptedalgorithms: 'PubkeyAcceptedAlgorithms',
  pubkeyacceptedkeytypes: 'PubkeyAcceptedAlgorithms',
  pubkeyauthentication: 'PubkeyAuthentication',
  refuseconnection: 'RefuseConnection',
  rekeylimit: 'RekeyLimit',
  remotecommand: 'RemoteCommand',
  remoteforward: 'RemoteForward',
  requesttty: 'RequestTTY',
  requiredrsasize: 'RequiredRSASize',
  revokedhostkeys: 'RevokedHostKeys',
  rhostsauthentication: 'RhostsAuthentication',
  rhostsrsaauthentication: 'RhostsRSAAuthentication',
  rsaauthentication: 'RSAAuthentication',
  securitykeyprovider: 'SecurityKeyProvider',
  sendenv: 'SendEnv',
  serveralivecountmax: 'ServerAliveCountMax',
  serveraliveinterval: 'ServerAliveInterval',
  sessiontype: 'SessionType',
  setenv: 'SetEnv',
  skeyauthentication: 'KbdInteractiveAuthentication',
  smartcarddevice: 'PKCS11Provider',
  stdinnull: 'StdinNull',
  streamlocalbindmask: 'StreamLocalBindMask',
  streamlocalbindunlink: 'StreamLocalBindUnlink',
  stricthostkeychecking: 'StrictHostKeyChecking',
  syslogfacility: 'SyslogFacility',
  tag: 'Tag',
  tcpkeepalive: 'TCPKeepAlive',
  tisauthentication: 'KbdInteractiveAuthentication',
  tunnel: 'Tunnel',
  tunneldevice: 'TunnelDevice',
  updatehostkeys: 'UpdateHostKeys',
  usekeychain: 'UseKeychain',
  user: 'User',
  userknownhostsfile: 'UserKnownHostsFile',
  userknownhostsfile2: 'UserKnownHostsFile2',
  useprivilegedport: 'UsePrivilegedPort',
  useroaming: 'UseRoaming',
  usersh: 'UseRsh',
  verifyhostkeydns: 'VerifyHostKeyDNS',
  versionaddendum: 'VersionAddendum',
  visualhostkey: 'VisualHostKey',
  warnweakcrypto: 'WarnWeakCrypto',
  xauthlocation: 'XAuthLocation'
};

/** Keywords every line of which adds to a list instead of first-wins. */
export const ACCUMULATING_KEYWORDS: ReadonlySet<string> = new Set([
  'CertificateFile',
  'DynamicForward',
  'IdentityFile',
  'LocalForward',
  'RemoteForward',
  'SendEnv',
  'SetEnv'
]);

/**
 * Keywords the built-in client does not use but OpenSSH does, about how to
 * log in and what to offer: passed to an OpenSSH master as they were
 * written (`IResolvedHost.opensshOptions`), so Kerberos (GSSAPI), user
 * certificates, security keys, another agent or a site's algorithm lists
 * work as with `ssh`. Nothing here forwards anything, runs a command or
 * changes the control socket.
 */
export const OPENSSH_PASSTHROUGH_KEYWORDS: ReadonlySet<string> = new Set([
  'AddKeysToAgent',
  'AddressFamily',
  'BindAddress',
  'BindInterface',
  'CASignatureAlgorithms',
  'CertificateFile',
  'Ciphers',
  'Compression',
  'FingerprintHash',
  'GSSAPIAuthentication',
  'GSSAPIClientIdentity',
  'GSSAPIDelegateCredentials',
  'GSSAPIKexAlgorithms',
  'GSSAPIKeyExchange',
  'GSSAPIRenewalForcesRekey',
  'GSSAPIServerIdentity',
  'GSSAPITrustDns',
  'HostbasedAuthentication',
  'HostKeyAlgorithms',
  'IdentityAgent',
  'IPQoS',
  'KbdInteractiveAuthentication',
  'KbdInteractiveDevices',
  'KexAlgorithms',
  'MACs',
  'PasswordAuthentication',
  'PKCS11Provider',
  'PreferredAuthentications',
  'PubkeyAcceptedAlgorithms',
  'PubkeyAuthentication',
  'RekeyLimit',
  'SecurityKeyProvider',
  'SendEnv',
  'SetEnv',
  'TCPKeepAlive',
  'VerifyHostKeyDNS'
]);

/**
 * OpenSSH's `convtime`: `90`, `90s`, `5m`, `1h30m`, `2d`, `1w` → seconds;
 * null when malformed.
 */
export function parseTime(s: string): number | null {
  const units: Record<string, number> = {
    '': 1,
    s: 1,
    m: 60,
    h: 3600,
    d: 86400,
    w: 604800
  };
  if (!/^(\d+[sSmMhHdDwW]?)+$/.test(s)) {
    return null;
  }
  let total = 0;
  for (const [, digits, unit] of s.matchAll(/(\d+)([a-zA-Z]?)/g)) {
    total += Number(digits) * units[unit.toLowerCase()];
  }
  return total <= 2147483647 ? total : null;
}

/** OpenSSH's `atoi_err`: a non-negative decimal int, else null. */
export function parseCount(s: string): number | null {
  if (!/^\d+$/.test(s)) {
    return null;
  }
  const n = Number(s);
  return n <= 2147483647 ? n : null;
}

/**
 * OpenSSH's `a2port`: 1–65535, or the service name `ssh`. Null otherwise
 * (OpenSSH also looks other names up in /etc/services; nobody writes them).
 */
export function parsePort(s: string): number | null {
  if (s === 'ssh') {
    return 22;
  }
  if (!/^\d{1,5}$/.test(s)) {
    return null;
  }
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : null;
}

/** OpenSSH's yes/no flags (`multistate_flag`). */
export function parseFlag(s: string): boolean | null {
  switch (s.toLowerCase()) {
    case 'yes':
    case 'true':
      return true;
    case 'no':
    case 'false':
      return false;
    default:
      return null;
  }
}

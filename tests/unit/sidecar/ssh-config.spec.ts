import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'fs';
import { hostname, tmpdir, userInfo } from 'os';
import { dirname, join } from 'path';

import {
  formatProxyJump,
  hasHostEntry,
  IHostOverrides,
  IJumpHop,
  IResolvedHost,
  IResolveOptions,
  listHostAliases,
  OPENSSH_DEFAULT_IDENTITY_FILES,
  parseProxyJump,
  proxyCommandArgv,
  resolveHost,
  resolveRoute,
  SshConfigError,
  SshConfigErrorCode,
  SSH2_DEFAULT_IDENTITY_FILES,
  sshProxyCommandHop
} from '../../../src/sidecar/ssh/config';
import {
  expandTilde,
  expandTokens,
  globPaths,
  matchPattern,
  matchPatternList
} from '../../../src/sidecar/ssh/config-expand';
import {
  parseConfigText,
  parsePort,
  parseTime,
  splitArguments
} from '../../../src/sidecar/ssh/config-syntax';
import { opensshDefaultIdentityFiles } from '../../../src/sidecar/clusters/ssh-client';

const FIXTURES = join(__dirname, 'fixtures', 'ssh-config');
const TUTORIAL = readFileSync(join(FIXTURES, 'tutorial.config'), 'utf8');

const HOME = '/home/ana';

/** The resolver's default keys (OpenSSH's), in a home. */
const OPENSSH_DEFAULTS = OPENSSH_DEFAULT_IDENTITY_FILES.map(
  name => `${HOME}/.ssh/${name}`
);

/** An in-memory file system: path → text. Directories are implied. */
function memoryFs(files: Record<string, string>): {
  readFile: (path: string) => string | null;
  listDir: (path: string) => string[] | null;
} {
  return {
    readFile: path =>
      Object.prototype.hasOwnProperty.call(files, path) ? files[path] : null,
    listDir: dir => {
      const prefix = dir.endsWith('/') ? dir : dir + '/';
      const names = new Set<string>();
      for (const file of Object.keys(files)) {
        if (file.startsWith(prefix)) {
          names.add(file.slice(prefix.length).split('/')[0]);
        }
      }
      return names.size > 0 ? [...names] : null;
    }
  };
}

/** Files relative to ~/.ssh, e.g. { config: '…', 'conf.d/a.conf': '…' }. */
function sshDir(files: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    out[name.startsWith('/') ? name : `${HOME}/.ssh/${name}`] = text;
  }
  return out;
}

function options(
  files: Record<string, string>,
  extra: Partial<IResolveOptions> = {}
): IResolveOptions {
  return {
    home: HOME,
    localUser: 'ana',
    localHostName: 'laptop.example.net',
    uid: 1000,
    env: { SHELL: '/bin/bash', LAB: 'lab42' },
    cwd: '/srv/jupyter',
    systemConfigPath: null,
    ...memoryFs(sshDir(files)),
    ...extra
  };
}

function resolve(
  alias: string,
  files: Record<string, string>,
  overrides?: IHostOverrides,
  extra: Partial<IResolveOptions> = {}
): IResolvedHost {
  return resolveHost(alias, options(files, { overrides, ...extra }));
}

function caught(fn: () => unknown): SshConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SshConfigError) {
      return err;
    }
    throw err;
  }
  throw new Error('expected an SshConfigError');
}

// ---------------------------------------------------------------------------
// Syntax

describe('splitArguments (OpenSSH argv_split)', () => {
  it.each<[string, string[] | null]>([
    ['a b\tc', ['a', 'b', 'c']],
    ['"a b" c', ['a b', 'c']],
    ["'a b' c", ['a b', 'c']],
    ['a"b c"d', ['ab cd']],
    ['"it\'s" ok', ["it's", 'ok']],
    ['my\\ key', ['my key']],
    ['\\"quoted\\"', ['"quoted"']],
    ['back\\\\slash', ['back\\slash']],
    ['C:\\keys', ['C:\\keys']],
    ['a # comment', ['a']],
    ['a#b', ['a#b']],
    ['""', ['']],
    ['"open', null],
    ["it's", null]
  ])('%j → %j', (text, args) => {
    expect(splitArguments(text)).toEqual(args);
  });
});

describe('parseConfigText', () => {
  const parse = (text: string) => parseConfigText(text, '/c', HOME);

  it('reads key value, key=value and key = value, any case', () => {
    const lines = parse(
      'HostName a\n  hostname=b\nHOSTNAME = c\n\tHostName\t"d e"\n'
    );
    expect(lines.map(l => [l.keyword, l.args, l.line])).toEqual([
      ['hostname', ['a'], 1],
      ['hostname', ['b'], 2],
      ['hostname', ['c'], 3],
      ['hostname', ['d e'], 4]
    ]);
  });

  it('skips comments and blank lines but keeps line numbers', () => {
    const lines = parse(
      '# top\n\n   \nUser x # trailing\r\n  # indented\nPort 2'
    );
    expect(lines.map(l => [l.keyword, l.args, l.line, l.text])).toEqual([
      ['user', ['x'], 4, 'User x # trailing'],
      ['port', ['2'], 6, 'Port 2']
    ]);
  });

  it('keeps the verbatim rest of the line for ProxyCommand', () => {
    const [line] = parse('ProxyCommand   ssh  -W "%h:%p"   gw # c');
    expect(line.rest).toBe('ssh  -W "%h:%p"   gw # c');
  });

  it.each([
    [
      'a keyword without a value',
      'HostName',
      /line 1: "HostName" needs a value/
    ],
    ['a lone "="', '= foo', /line 1: expected a keyword/],
    ['an unclosed double quote', 'User "ana', /line 1: a quote/],
    [
      'an unclosed single quote',
      "ProxyCommand echo it's",
      /line 1: a quote is not closed/
    ],
    ['Host without patterns', '\nHost', /line 2: "Host" needs a value/]
  ])('refuses %s with file and line', (_case, text, message) => {
    const error = caught(() => parse(text));
    expect(error.code).toBe('ssh-config-syntax');
    expect(error.message).toMatch(message);
    expect(error.location?.file).toBe('/c');
  });
});

describe('value parsers', () => {
  it.each<[string, number | null]>([
    ['30', 30],
    ['30s', 30],
    ['5m', 300],
    ['1h30m', 5400],
    ['2D', 172800],
    ['1w', 604800],
    ['', null],
    ['5x', null],
    ['m5', null],
    ['-1', null]
  ])('parseTime(%j) = %j', (text, seconds) => {
    expect(parseTime(text)).toBe(seconds);
  });

  it.each<[string, number | null]>([
    ['22', 22],
    ['65535', 65535],
    ['ssh', 22],
    ['0', null],
    ['65536', null],
    ['22x', null],
    ['', null]
  ])('parsePort(%j) = %j', (text, port) => {
    expect(parsePort(text)).toBe(port);
  });
});

// ---------------------------------------------------------------------------
// Patterns, tokens, paths

describe('host patterns (OpenSSH match.c)', () => {
  it.each<[string, string, boolean]>([
    ['hpc-gw1', 'hpc-gw1', true],
    ['hpc-gw1', 'hpc-*', true],
    ['hpc-gw1', 'hpc-gw?', true],
    ['hpc-gw12', 'hpc-gw?', false],
    ['HPC-GW1', 'hpc-gw1', false],
    ['a.example.org', '*.example.org', true],
    ['example.org', '*.example.org', false],
    ['abcabcabd', '*abc*abd', true],
    ['x', '*', true],
    ['', '*', true],
    ['', '', true],
    ['a', '', false]
  ])('matchPattern(%j, %j) = %j', (s, pattern, result) => {
    expect(matchPattern(s, pattern)).toBe(result);
  });

  it.each<[string, string, boolean, number]>([
    ['ana', 'ana,bob', false, 1],
    ['carl', 'ana,bob', false, 0],
    ['ana', '*,!ana', false, -1],
    ['bob', '*,!ana', false, 1],
    ['bob', '!ana', false, 0],
    ['login.example.org', 'LOGIN.*', true, 1],
    ['login.example.org', 'LOGIN.*', false, 0]
  ])('matchPatternList(%j, %j, lower=%j) = %j', (s, list, lower, result) => {
    expect(matchPatternList(s, list, lower)).toBe(result);
  });

  it('stays fast on patterns that backtrack', () => {
    const start = Date.now();
    expect(matchPattern('a'.repeat(5000), '*a*a*a*a*a*a*a*b')).toBe(false);
    expect(Date.now() - start).toBeLessThan(1000);
  });
});

describe('expandTokens (OpenSSH percent_dollar_expand)', () => {
  const tokens = { h: 'node1', p: '22', r: 'ana' };
  const env = { HOME: '/home/ana', EMPTY: '' };
  const fail = (reason: string) => new Error(reason);

  it.each<[string, string]>([
    ['%h:%p', 'node1:22'],
    ['100%%', '100%'],
    ['%r@%h', 'ana@node1'],
    ['${HOME}/.ssh/%r', '/home/ana/.ssh/ana'],
    ['a${EMPTY}b', 'ab'],
    ['$HOME', '$HOME']
  ])('%j → %j', (text, expanded) => {
    expect(expandTokens(text, tokens, env, fail)).toBe(expanded);
  });

  it.each([
    ['%x', /"%x" is not a token here \(%h %p %r %% are\)/],
    ['trailing %', /a "%" at the end/],
    ['${NOPE}', /\$\{NOPE\} is not set/],
    ['${HOME', /without a closing/],
    ['${}', /an empty/],
    ['${HOME%h}', /\$\{HOME%h\} is not set/]
  ])('refuses %j', (text, message) => {
    expect(() => expandTokens(text, tokens, env, fail)).toThrow(message);
  });

  it('leaves ${…} alone where OpenSSH does not expand it', () => {
    expect(expandTokens('${HOME}', tokens, null, fail)).toBe('${HOME}');
  });
});

describe('expandTilde (OpenSSH tilde_expand)', () => {
  it.each<[string, string | null]>([
    ['~/.ssh/id_rsa', '/home/ana/.ssh/id_rsa'],
    ['~//.ssh/x', '/home/ana/.ssh/x'],
    ['~', '/home/ana/'],
    ['~ana/.ssh/x', '/home/ana/.ssh/x'],
    ['~bob/.ssh/x', null],
    ['/abs/~/x', '/abs/~/x'],
    ['rel/x', 'rel/x']
  ])('%j → %j', (path, expanded) => {
    expect(expandTilde(path, HOME, 'ana')).toBe(expanded);
  });
});

describe('globPaths (glob(3) for Include)', () => {
  const fs = memoryFs({
    '/h/.ssh/conf.d/20-b.conf': '',
    '/h/.ssh/conf.d/10-a.conf': '',
    '/h/.ssh/conf.d/.hidden.conf': '',
    '/h/.ssh/conf.d/README': '',
    '/h/.ssh/conf.d/sub/x.conf': '',
    '/h/.ssh/hosts/a/config': '',
    '/h/.ssh/hosts/b/config': '',
    '/h/.ssh/hosts/c.txt': ''
  });

  it.each<[string, string[]]>([
    [
      '/h/.ssh/conf.d/*.conf',
      ['/h/.ssh/conf.d/10-a.conf', '/h/.ssh/conf.d/20-b.conf']
    ],
    ['/h/.ssh/conf.d/.*.conf', ['/h/.ssh/conf.d/.hidden.conf']],
    ['/h/.ssh/conf.d/?0-a.conf', ['/h/.ssh/conf.d/10-a.conf']],
    [
      '/h/.ssh/conf.d/[12]0-*',
      ['/h/.ssh/conf.d/10-a.conf', '/h/.ssh/conf.d/20-b.conf']
    ],
    [
      '/h/.ssh/conf.d/[!1]*',
      [
        '/h/.ssh/conf.d/20-b.conf',
        '/h/.ssh/conf.d/README',
        '/h/.ssh/conf.d/sub'
      ]
    ],
    [
      '/h/.ssh/hosts/*/config',
      [
        '/h/.ssh/hosts/a/config',
        '/h/.ssh/hosts/b/config',
        '/h/.ssh/hosts/c.txt/config'
      ]
    ],
    ['/h/.ssh/nothing/*.conf', []],
    ['/h/.ssh/plain', ['/h/.ssh/plain']]
  ])('%s', (pattern, paths) => {
    expect(globPaths(pattern, fs.listDir)).toEqual(paths);
  });
});

// ---------------------------------------------------------------------------
// ProxyJump

describe('parseProxyJump', () => {
  it.each<[string, IJumpHop[]]>([
    ['gw', [{ host: 'gw' }]],
    [
      'gw1,ana@gw2:2222',
      [{ host: 'gw1' }, { host: 'gw2', user: 'ana', port: 2222 }]
    ],
    ['a@b@gw', [{ host: 'gw', user: 'a@b' }]],
    ['[2001:db8::1]:2200', [{ host: '2001:db8::1', port: 2200 }]],
    ['[2001:db8::1]', [{ host: '2001:db8::1' }]],
    [
      'ssh://bob@jump.example.org:2022',
      [{ host: 'jump.example.org', user: 'bob', port: 2022 }]
    ],
    ['ssh://b%40b;x=1@jump/', [{ host: 'jump', user: 'b@b' }]],
    ['gw:', [{ host: 'gw' }]],
    ['gw # comment', [{ host: 'gw' }]],
    // As in OpenSSH (ssh -G prints "proxyjump none"): only a bare "none"
    // means no jump host.
    ['none # direct', [{ host: 'none' }]],
    ['none', []],
    ['NONE', []],
    ['gw/2022', [{ host: 'gw', port: 2022 }]]
  ])('%j', (spec, hops) => {
    expect(parseProxyJump(spec)).toEqual(hops);
  });

  it.each([
    ['', /no jump host is given/],
    ['gw1,,gw2', /a jump host is empty/],
    ['@gw', /empty user name/],
    ['gw:abc', /"abc" in "gw:abc" is not a port number/],
    ['gw:0', /is not a port number/],
    ['gw:22:33', /is not a port number/],
    ['[::1', /without "\]"/],
    ['ssh://gw/path', /has a path/],
    [':22', /has no host name/]
  ])('refuses %j', (spec, message) => {
    const error = caught(() => parseProxyJump(spec));
    expect(error.code).toBe('ssh-config-bad-proxyjump');
    expect(error.message).toMatch(message);
  });

  it.each([
    ['gw;rm -rf ~', /not a valid host name/],
    ['$(id)@gw', /not a valid user name/],
    ['-oProxyCommand=x', /not a valid host name/]
  ])('refuses %j from settings (strict)', (spec, message) => {
    expect(caught(() => parseProxyJump(spec, true)).message).toMatch(message);
    expect(() => parseProxyJump(spec)).not.toThrow();
  });

  it('formats hops back, IPv6 in brackets', () => {
    expect(
      formatProxyJump([
        { host: 'gw1' },
        { host: 'gw2', user: 'ana', port: 2222 },
        { host: '2001:db8::1', port: 22 }
      ])
    ).toBe('gw1,ana@gw2:2222,[2001:db8::1]:22');
  });
});

describe('sshProxyCommandHop', () => {
  it.each<[string, IJumpHop | null]>([
    ['ssh sgw1 exec nc %h %p', { host: 'sgw1' }],
    ['ssh -q gw nc %h %p', { host: 'gw' }],
    ['exec /usr/bin/ssh ana@gw netcat %h %p', { host: 'gw', user: 'ana' }],
    ['ssh -W %h:%p gw', { host: 'gw' }],
    ['ssh gw -W %h:%p', { host: 'gw' }],
    [
      'ssh -qT -W "[%h]:%p" -l ana -p 2222 gw',
      { host: 'gw', user: 'ana', port: 2222 }
    ],
    [
      'ssh -W%h:%p -p2022 gw.example.org',
      { host: 'gw.example.org', port: 2022 }
    ],
    ['ssh -i ~/.ssh/k -W %h:%p gw', null],
    ['ssh -o ProxyJump=x -W %h:%p gw', null],
    ['ssh -W %h:22 gw', null],
    ['ssh -W %h:%p %r@gw', null],
    ['ssh -W %h:%p gw uptime', null],
    ['ssh gw nc %h 22', null],
    ['ssh gw', null],
    ['nc %h %p', null],
    ['ssh -l a b@gw -W %h:%p', null],
    ['ssh -W %h:%p', null]
  ])('%j', (command, hop) => {
    expect(sshProxyCommandHop(command)).toEqual(hop);
  });
});

// ---------------------------------------------------------------------------
// ProxyCommand argv

describe('proxyCommandArgv', () => {
  const values: Record<string, string> = {
    h: 'node1',
    p: '22',
    r: 'ana',
    n: 'cl',
    k: 'cl'
  };
  const expand = (s: string) =>
    expandTokens(s, values, null, reason => new Error(reason));

  it.each<[string, string[]]>([
    ['ssh sgw1 exec nc %h %p', ['ssh', 'sgw1', 'exec', 'nc', 'node1', '22']],
    ['ssh -W %h:%p gw', ['ssh', '-W', 'node1:22', 'gw']],
    ['exec ssh -q -W %h:%p %r@gw', ['ssh', '-q', '-W', 'node1:22', 'ana@gw']],
    [
      '/usr/bin/nc -X connect -x proxy:3128 %h %p',
      ['/usr/bin/nc', '-X', 'connect', '-x', 'proxy:3128', 'node1', '22']
    ],
    [
      'ssh -o ProxyJump=none gw -W %h:%p',
      ['ssh', '-o', 'ProxyJump=none', 'gw', '-W', 'node1:22']
    ],
    ['ssh -W "%h:%p" gw', ['/bin/sh', '-c', 'exec ssh -W "node1:22" gw']],
    ['ssh -W [%h]:%p gw', ['/bin/sh', '-c', 'exec ssh -W [node1]:22 gw']],
    ['~/bin/proxy %h', ['/bin/sh', '-c', 'exec ~/bin/proxy node1']],
    [
      'nc $(dig +short %h) %p',
      ['/bin/sh', '-c', 'exec nc $(dig +short node1) 22']
    ],
    [
      'socat - TCP:%h:%p 2>/dev/null',
      ['/bin/sh', '-c', 'exec socat - TCP:node1:22 2>/dev/null']
    ],
    [
      'LANG=C ssh gw -W %h:%p',
      ['/bin/sh', '-c', 'exec LANG=C ssh gw -W node1:22']
    ],
    ['cd /tmp', ['/bin/sh', '-c', 'exec cd /tmp']],
    ['exec -a x nc %h %p', ['/bin/sh', '-c', 'exec exec -a x nc node1 22']]
  ])('%j', (command, argv) => {
    expect(proxyCommandArgv(command, expand, '/bin/sh')).toEqual(argv);
  });

  it('keeps a token value one argument without a shell', () => {
    const odd = (s: string) => s.replace('%h', 'a b;c');
    expect(proxyCommandArgv('nc %h 22', odd, '/bin/sh')).toEqual([
      'nc',
      'a b;c',
      '22'
    ]);
  });
});

// ---------------------------------------------------------------------------
// resolveHost

/** The fields most tests look at. */
function brief(host: IResolvedHost): Partial<IResolvedHost> {
  return {
    hostName: host.hostName,
    port: host.port,
    user: host.user,
    identityFiles: host.identityFiles,
    proxyJump: host.proxyJump,
    proxyCommand: host.proxyCommand
  };
}

const SITE = `
# A site whose cluster sits behind two gateways.
Host cluster
  HostName login.cluster.example.org
  User ana.lee
  ProxyJump gw1,ana@gw2:2222
  ServerAliveInterval 30
  ServerAliveCountMax 4
  ConnectTimeout 1m

Host gw1
  HostName gw1.example.org
  Port 2022

Host gw2
  HostName gw2.internal
  ProxyJump none

Host cluster gw*
  User site-user
  IdentityFile ~/.ssh/id_site

Host *
  ServerAliveInterval 60
  IdentitiesOnly yes
`;

/** Includes: a conf.d glob, nested files, an Include inside Host blocks. */
const INCLUDES: Record<string, string> = {
  config: [
    'Include conf.d/*.conf',
    'ConnectTimeout 8',
    'Host hpc',
    '  Include hpc-extra.conf',
    'Host *',
    '  User default-user',
    '  Include ~/.ssh/last.conf missing.conf'
  ].join('\n'),
  'conf.d/10-a.conf': 'Host alpha\n  HostName alpha.example.org\n',
  'conf.d/20-b.conf':
    'Include nested/*.conf\nHost alpha\n  HostName not-used\n  User bee\n' +
    '  Include alpha-only.conf\n',
  'conf.d/.hidden.conf': 'Host alpha\n  Port 1111\n',
  'conf.d/README': 'Host alpha\n  Port 1112\n',
  // Ends in a block that never applies: the including file must not care.
  'conf.d/30-z.conf': 'Match host nothing-matches\n  Port 9\n',
  'nested/n.conf': 'Host beta\n  Port 2200\n',
  'alpha-only.conf': 'ServerAliveInterval 12\nHost gamma\n  Port 2300\n',
  'hpc-extra.conf':
    'HostName hpc.example.org\nPort 2222\nHost other\n  User other-user\n',
  'last.conf': 'Host beta\n  User last\n  ServerAliveInterval 11\n'
};

describe('resolveHost: the cluster tutorial', () => {
  const files = { config: TUTORIAL };

  it('resolves hpc-gw1 through its ProxyCommand via sgw1', () => {
    const host = resolve('hpc-gw1', files);
    expect(host).toEqual({
      alias: 'hpc-gw1',
      hostName: 'hpc-gw1',
      port: 22,
      user: 'alice',
      identityFiles: [`${HOME}/.ssh/id_rsa_gatsby`],
      identityFilesExplicit: true,
      identitiesOnly: false,
      proxyJump: [],
      proxyCommand: ['ssh', 'sgw1', 'exec', 'nc', 'hpc-gw1', '22'],
      proxyCommandText: 'ssh sgw1 exec nc %h %p',
      serverAliveInterval: 0,
      serverAliveCountMax: 3,
      connectTimeout: null,
      strictHostKeyChecking: 'ask',
      userKnownHostsFiles: [
        `${HOME}/.ssh/known_hosts`,
        `${HOME}/.ssh/known_hosts2`
      ],
      globalKnownHostsFiles: [
        '/etc/ssh/ssh_known_hosts',
        '/etc/ssh/ssh_known_hosts2'
      ],
      hostKeyAlias: null,
      opensshOptions: [],
      source: [
        '~/.ssh/config:3: Host hpc-gw1',
        '~/.ssh/config:4: User alice',
        '~/.ssh/config:5: Hostname hpc-gw1',
        '~/.ssh/config:6: ProxyCommand ssh sgw1 exec nc %h %p',
        '~/.ssh/config:7: IdentityFile  ~/.ssh/id_rsa_gatsby',
        '~/.ssh/config:8: LogLevel QUIET'
      ],
      warnings: []
    });
  });

  it('resolves sgw1 directly', () => {
    expect(brief(resolve('sgw1', files))).toEqual({
      hostName: 'ssh.swc.ucl.ac.uk',
      port: 22,
      user: 'alice',
      identityFiles: [`${HOME}/.ssh/id_rsa_gatsby`],
      proxyJump: [],
      proxyCommand: null
    });
  });

  it('gives the route: hpc-gw1 reached by its own ProxyCommand', () => {
    const route = resolveRoute('hpc-gw1', options(files));
    expect(route.map(h => h.alias)).toEqual(['hpc-gw1']);
    expect(route[0].proxyCommand).toEqual([
      'ssh',
      'sgw1',
      'exec',
      'nc',
      'hpc-gw1',
      '22'
    ]);
  });

  it('can make the ssh ProxyCommand a jump through sgw1 in-process', () => {
    const route = resolveRoute('hpc-gw1', {
      ...options(files),
      sshProxyCommandsAsJumps: true
    });
    expect(
      route.map(h => [h.alias, h.hostName, h.user, h.proxyJump, h.proxyCommand])
    ).toEqual([
      ['sgw1', 'ssh.swc.ucl.ac.uk', 'alice', [], null],
      ['hpc-gw1', 'hpc-gw1', 'alice', [{ host: 'sgw1' }], null]
    ]);
    expect(route[1].source.slice(-1)[0]).toBe(
      'ProxyCommand ssh sgw1 exec nc %h %p → made in-process as ProxyJump sgw1'
    );
  });

  it('lists both aliases for the "Add cluster" dialog', () => {
    expect(listHostAliases(options(files))).toEqual(['hpc-gw1', 'sgw1']);
    expect(hasHostEntry('hpc-gw1', options(files))).toBe(true);
    expect(hasHostEntry('hpc-gw2', options(files))).toBe(false);
  });
});

describe('resolveHost: a site with ProxyJump chains', () => {
  const files = { config: SITE };

  it.each<[string, IHostOverrides | undefined, Partial<IResolvedHost>]>([
    [
      'cluster',
      undefined,
      {
        hostName: 'login.cluster.example.org',
        port: 22,
        user: 'ana.lee',
        identityFiles: [`${HOME}/.ssh/id_site`],
        proxyJump: [{ host: 'gw1' }, { host: 'gw2', user: 'ana', port: 2222 }],
        proxyCommand: null
      }
    ],
    [
      'gw1',
      undefined,
      {
        hostName: 'gw1.example.org',
        port: 2022,
        user: 'site-user',
        identityFiles: [`${HOME}/.ssh/id_site`],
        proxyJump: [],
        proxyCommand: null
      }
    ],
    [
      'gw2',
      { user: 'ana', port: 2222, jumpHost: 'gw1' },
      {
        hostName: 'gw2.internal',
        port: 2222,
        user: 'ana',
        identityFiles: [`${HOME}/.ssh/id_site`],
        proxyJump: [{ host: 'gw1' }],
        proxyCommand: null
      }
    ],
    [
      'cluster',
      { port: 2200, user: 'bob', identityFile: '~/.ssh/id_bob' },
      {
        hostName: 'login.cluster.example.org',
        port: 2200,
        user: 'bob',
        identityFiles: [`${HOME}/.ssh/id_bob`, `${HOME}/.ssh/id_site`],
        proxyJump: [{ host: 'gw1' }, { host: 'gw2', user: 'ana', port: 2222 }],
        proxyCommand: null
      }
    ],
    [
      'cluster',
      { jumpHost: 'none', port: null, user: '', identityFile: '' },
      {
        hostName: 'login.cluster.example.org',
        port: 22,
        user: 'ana.lee',
        identityFiles: [`${HOME}/.ssh/id_site`],
        proxyJump: [],
        proxyCommand: null
      }
    ]
  ])('%s with settings %j', (alias, overrides, expected) => {
    expect(brief(resolve(alias, files, overrides))).toEqual(expected);
  });

  it('takes keepalives and timeouts, first value winning', () => {
    const host = resolve('cluster', files);
    expect([
      host.serverAliveInterval,
      host.serverAliveCountMax,
      host.connectTimeout,
      host.identitiesOnly
    ]).toEqual([30, 4, 60, true]);
    expect(resolve('gw2', files).serverAliveInterval).toBe(60);
  });

  it('resolves the route hop by hop, as ssh -J does', () => {
    const route = resolveRoute('cluster', options(files));
    expect(
      route.map(h => [h.alias, h.hostName, h.port, h.user, h.proxyJump])
    ).toEqual([
      ['gw1', 'gw1.example.org', 2022, 'site-user', []],
      ['gw2', 'gw2.internal', 2222, 'ana', [{ host: 'gw1' }]],
      [
        'cluster',
        'login.cluster.example.org',
        22,
        'ana.lee',
        [{ host: 'gw1' }, { host: 'gw2', user: 'ana', port: 2222 }]
      ]
    ]);
    // Settings for the cluster do not leak to its jump hosts (nor in ssh).
    const withKey = resolveRoute(
      'cluster',
      options(files, { overrides: { identityFile: '~/.ssh/id_bob' } })
    );
    expect(withKey[0].identityFiles).toEqual([`${HOME}/.ssh/id_site`]);
    expect(withKey[2].identityFiles[0]).toBe(`${HOME}/.ssh/id_bob`);
  });

  it('refuses jump hosts that lead back to themselves', () => {
    const loop = { config: 'Host a\n ProxyJump b\nHost b\n ProxyJump a\n' };
    const error = caught(() => resolveRoute('a', options(loop)));
    expect(error.code).toBe('ssh-config-jump-loop');
    expect(error.message).toBe(
      'The jump hosts of a go round in a circle: a via b via a. Fix the ' +
        'ProxyJump or ProxyCommand lines of these hosts in your ssh config.'
    );
    const self = { config: 'Host a\n ProxyJump a\n' };
    expect(caught(() => resolveHost('a', options(self))).code).toBe(
      'ssh-config-jump-loop'
    );
  });
});

describe('resolveHost: Include', () => {
  const files = {
    ...INCLUDES,
    config: INCLUDES.config + ' /etc/ssh/site.conf',
    '/etc/ssh/site.conf': 'ConnectTimeout 7\nCompression yes\n'
  };

  it.each<[string, Partial<IResolvedHost>]>([
    [
      'alpha',
      {
        hostName: 'alpha.example.org',
        port: 22,
        user: 'bee',
        identityFiles: OPENSSH_DEFAULTS,
        proxyJump: [],
        proxyCommand: null,
        serverAliveInterval: 12
      }
    ],
    [
      'beta',
      {
        hostName: 'beta',
        port: 2200,
        user: 'default-user',
        serverAliveInterval: 11
      }
    ],
    ['gamma', { port: 22, serverAliveInterval: 0 }],
    ['hpc', { hostName: 'hpc.example.org', port: 2222, user: 'default-user' }],
    ['other', { hostName: 'other', port: 22, user: 'default-user' }]
  ])('%s', (alias, expected) => {
    expect(resolve(alias, files)).toMatchObject(expected);
  });

  it('names every file and line that applied', () => {
    expect(resolve('hpc', files).source).toEqual([
      '~/.ssh/config:2: ConnectTimeout 8',
      '~/.ssh/config:3: Host hpc',
      '~/.ssh/hpc-extra.conf:1: HostName hpc.example.org',
      '~/.ssh/hpc-extra.conf:2: Port 2222',
      '~/.ssh/config:5: Host *',
      '~/.ssh/config:6: User default-user',
      '/etc/ssh/site.conf:2: Compression yes'
    ]);
    // ConnectTimeout 8 came first; the later one in site.conf is not used.
    expect(resolve('hpc', files).connectTimeout).toBe(8);
  });

  it('lists aliases from all files, in order, only where they can match', () => {
    // "gamma" and "other" are in files Included under "Host alpha" and
    // "Host hpc": they can never match.
    expect(listHostAliases(options(files))).toEqual(['alpha', 'beta', 'hpc']);
  });

  it('reads the system config after the user config', () => {
    const system = {
      ...files,
      '/etc/ssh/ssh_config':
        'Include /etc/ssh/ssh_config.d/*.conf\nHost *\n  Port 2\n',
      '/etc/ssh/ssh_config.d/site.conf':
        'Host alpha\n  StrictHostKeyChecking yes\n'
    };
    const host = resolve('alpha', system, undefined, {
      systemConfigPath: '/etc/ssh/ssh_config'
    });
    expect([host.port, host.strictHostKeyChecking]).toEqual([2, 'yes']);
    expect(host.source.slice(-4)).toEqual([
      '/etc/ssh/ssh_config.d/site.conf:1: Host alpha',
      '/etc/ssh/ssh_config.d/site.conf:2: StrictHostKeyChecking yes',
      '/etc/ssh/ssh_config:2: Host *',
      '/etc/ssh/ssh_config:3: Port 2'
    ]);
    // Relative Includes of the system config are taken from its directory.
    const relative = {
      '/etc/ssh/ssh_config': 'Include ssh_config.d/*.conf\n',
      '/etc/ssh/ssh_config.d/site.conf': 'Port 3\n'
    };
    expect(
      resolve('x', relative, undefined, {
        systemConfigPath: '/etc/ssh/ssh_config'
      }).port
    ).toBe(3);
  });

  it('expands tokens and variables in Include paths (OpenSSH 9.9)', () => {
    const tokens = {
      config: 'Host *\n  Include hosts/%n.conf ${LAB}.conf\n',
      'hosts/gpu.conf': 'Port 2001\n',
      'lab42.conf': 'User lab\n'
    };
    expect(resolve('gpu', tokens)).toMatchObject({ port: 2001, user: 'lab' });
  });

  it.each<[string, Record<string, string>, SshConfigErrorCode, RegExp]>([
    [
      'a file that Includes itself',
      { config: 'Include config\n' },
      'ssh-config-include-loop',
      /~\/\.ssh\/config line 1: Include loop: ~\/\.ssh\/config → ~\/\.ssh\/config/
    ],
    [
      'two files that Include each other, even in an inactive block',
      {
        config: 'Host nothing\n  Include a.conf\n',
        'a.conf': 'Include config\n'
      },
      'ssh-config-include-loop',
      /a\.conf line 1: Include loop: ~\/\.ssh\/config → ~\/\.ssh\/a\.conf → ~\/\.ssh\/config/
    ],
    [
      'Includes nested 17 deep',
      Object.fromEntries([
        ['config', 'Include d0.conf\n'],
        ...Array.from({ length: 17 }, (_, i) => [
          `d${i}.conf`,
          `Include d${i + 1}.conf\n`
        ])
      ]),
      'ssh-config-include-depth',
      /nested more than 16 deep/
    ],
    [
      "another user's home",
      { config: 'Include ~bob/.ssh/config\n' },
      'ssh-config-bad-value',
      /another user's home/
    ]
  ])('refuses %s', (_case, bad, code, message) => {
    const error = caught(() => resolve('x', bad));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('allows Includes nested 16 deep', () => {
    const deep = Object.fromEntries([
      ['config', 'Include d1.conf\n'],
      ...Array.from({ length: 15 }, (_, i) => [
        `d${i + 1}.conf`,
        `Include d${i + 2}.conf\n`
      ]),
      ['d16.conf', 'Port 1616\n']
    ]);
    expect(resolve('x', deep).port).toBe(1616);
  });
});

describe('resolveHost: Host patterns and Match', () => {
  const negations = {
    config: `
Host *.example.org !bastion.example.org
  ProxyJump bastion.example.org
Host bastion.example.org
  User jump
Host !*.example.org *
  Port 2022
`
  };

  it.each<[string, Partial<IResolvedHost>]>([
    [
      'a.example.org',
      { port: 22, proxyJump: [{ host: 'bastion.example.org' }] }
    ],
    ['bastion.example.org', { port: 22, user: 'jump', proxyJump: [] }],
    ['other.net', { port: 2022, proxyJump: [] }]
  ])('negations: %s', (alias, expected) => {
    expect(resolve(alias, negations)).toMatchObject(expected);
  });

  const match = {
    config: `
Match originalhost build* user !root
  Port 2201
Host build1
  HostName build1.ci.example.org
Match host *.ci.example.org
  User ci
  IdentityFile %d/.ssh/ci_%r_%h
Match user ci
  ConnectTimeout 15
Match localuser ana !host *.ci.example.org
  ServerAliveInterval 5
Match all
  ServerAliveCountMax 7
Match originalhost=other
  Port 2202
Match !originalhost build1 tagged ""
  StrictHostKeyChecking accept-new
`
  };

  it.each<[string, IHostOverrides | undefined, Partial<IResolvedHost>]>([
    [
      'build1',
      undefined,
      {
        hostName: 'build1.ci.example.org',
        port: 22,
        user: 'ci',
        identityFiles: [`${HOME}/.ssh/ci_ci_build1.ci.example.org`],
        connectTimeout: 15,
        serverAliveInterval: 0,
        serverAliveCountMax: 7,
        strictHostKeyChecking: 'ask'
      }
    ],
    [
      'other',
      undefined,
      {
        hostName: 'other',
        port: 2202,
        user: 'ana',
        connectTimeout: null,
        serverAliveInterval: 5,
        serverAliveCountMax: 7,
        strictHostKeyChecking: 'accept-new'
      }
    ],
    [
      'other',
      { user: 'ci' },
      { user: 'ci', connectTimeout: 15, serverAliveInterval: 5 }
    ]
  ])('Match blocks: %s %j', (alias, overrides, expected) => {
    expect(resolve(alias, match, overrides)).toMatchObject(expected);
  });

  it('matches Host lines case-sensitively, as ssh does', () => {
    expect(resolve('HPC-GW1', { config: TUTORIAL })).toMatchObject({
      hostName: 'hpc-gw1',
      user: 'ana',
      proxyCommand: null
    });
  });

  it('never runs Match exec: the block is skipped with a warning', () => {
    const files = {
      config:
        'Match exec "test -e /tmp/on-vpn" host login\n  ProxyJump gw\n' +
        'Match host other exec "false"\n  Port 3\n'
    };
    const login = resolve('login', files);
    expect(login.proxyJump).toEqual([]);
    expect(login.warnings).toEqual([
      '~/.ssh/config line 1: the block of "Match exec "test -e /tmp/on-vpn" ' +
        'host login" is skipped: exec "test -e /tmp/on-vpn" is not evaluated ' +
        'here (the sidecar never runs commands from ssh config). ssh may ' +
        'apply this block.'
    ]);
    // No warning when the other criteria already rule the block out.
    expect(resolve('elsewhere', files).warnings).toEqual([]);
  });

  it('reads the files again for Match final, matching the final name', () => {
    const files = {
      config: `
Host short
  HostName Short.Final.Example
Match final host *.final.example
  User finaluser
Host *.final.example
  Port 2345
Match canonical
  ServerAliveInterval 9
Match !final
  ConnectTimeout 3
`
    };
    expect(resolve('short', files)).toMatchObject({
      hostName: 'short.final.example',
      user: 'finaluser',
      port: 2345,
      serverAliveInterval: 9,
      connectTimeout: 3
    });
    expect(resolve('other', files)).toMatchObject({
      user: 'ana',
      port: 22,
      serverAliveInterval: 9
    });
  });

  it('warns that CanonicalizeHostname is not done, and reads again', () => {
    const host = resolve('h', {
      config:
        'CanonicalizeHostname yes\nHost h\n  HostName H.Example\nHost *.example\n  Port 7\n'
    });
    expect(host.port).toBe(7);
    expect(host.warnings[0]).toMatch(/CanonicalizeHostname is not done here/);
  });
});

describe('resolveHost: lines only OpenSSH uses', () => {
  const config = [
    'Host kerb',
    '  GSSAPIAuthentication yes',
    '  GSSAPIDelegateCredentials no',
    '  CertificateFile ~/.ssh/id_ed25519-cert.pub',
    '  CertificateFile ~/.ssh/other-cert.pub',
    '  Ciphers aes256-gcm@openssh.com',
    '  LocalForward 8888 localhost:8888',
    '  RemoteCommand top',
    'Host *',
    '  GSSAPIAuthentication no',
    '  SendEnv LANG LC_*',
    ''
  ].join('\n');

  it('keeps them as written, first value winning, accumulating ones all', () => {
    const host = resolve('kerb', { [`${HOME}/.ssh/config`]: config });
    expect(host.opensshOptions).toEqual([
      'GSSAPIAuthentication=yes',
      'GSSAPIDelegateCredentials=no',
      'CertificateFile=~/.ssh/id_ed25519-cert.pub',
      'CertificateFile=~/.ssh/other-cert.pub',
      'Ciphers=aes256-gcm@openssh.com',
      'SendEnv=LANG LC_*'
    ]);
  });

  it('never passes on forwards or remote commands', () => {
    const host = resolve('kerb', { [`${HOME}/.ssh/config`]: config });
    expect(host.opensshOptions.join(' ')).not.toMatch(
      /LocalForward|RemoteCommand/
    );
  });

  it('has none for a host without such lines', () => {
    expect(
      resolve('plain', { [`${HOME}/.ssh/config`]: 'Host plain\n  Port 2\n' })
        .opensshOptions
    ).toEqual([]);
  });
});

describe('resolveHost: values and expansion', () => {
  it.each<[string, string, string, Partial<IResolvedHost>]>([
    [
      '%h in HostName',
      'Host short-*\n HostName %h.Example.ORG\n',
      'short-x',
      { hostName: 'short-x.example.org' }
    ],
    [
      'an IPv4 HostName',
      'Host ip\n HostName 10.1.2.3\n',
      'ip',
      { hostName: '10.1.2.3' }
    ],
    [
      'an IPv6 HostName keeps its case',
      'Host ip6\n HostName FE80::1\n',
      'ip6',
      { hostName: 'FE80::1' }
    ],
    ['%% in HostName', 'Host p\n HostName a%%b\n', 'p', { hostName: 'a%b' }],
    [
      'key=value forms',
      'HOST=eq\n hostname=eq.example.org\n PORT = 2200\n',
      'eq',
      { hostName: 'eq.example.org', port: 2200 }
    ],
    ['Port by service name', 'Port ssh\n', 'x', { port: 22 }],
    [
      'quoted values',
      'Host q\n User "ana lee"\n IdentityFile "~/.ssh/my key"\n IdentityFile ~/.ssh/other\\ key\n',
      'q',
      {
        user: 'ana lee',
        identityFiles: [`${HOME}/.ssh/my key`, `${HOME}/.ssh/other key`]
      }
    ],
    [
      'time units and comments',
      'ServerAliveInterval 1h30m # keepalive\nConnectTimeout 2m\n',
      'x',
      { serverAliveInterval: 5400, connectTimeout: 120 }
    ],
    [
      'ConnectTimeout none sets nothing',
      'ConnectTimeout none\nConnectTimeout 9\n',
      'x',
      { connectTimeout: 9 }
    ],
    [
      'first value wins, IdentityFile adds up',
      'Host a\n Port 1001\n User first\n IdentityFile ~/.ssh/a1\nHost a\n Port 1002\n User second\n IdentityFile ~/.ssh/a1\nHost *\n IdentityFile ~/.ssh/all\n',
      'a',
      {
        port: 1001,
        user: 'first',
        identityFiles: [`${HOME}/.ssh/a1`, `${HOME}/.ssh/all`]
      }
    ],
    [
      'IdentityFile tokens',
      'Host t\n HostName T.example\n User u\n Port 2\n IdentityFile %d/%u/%r/%h/%p/%n/%l/%L/%i/%k/%%/%j\n',
      't',
      {
        identityFiles: [
          `${HOME}/ana/u/t.example/2/t/laptop.example.net/laptop/1000/t/%/`
        ]
      }
    ],
    [
      'IdentityFile ${VAR} and %C',
      'IdentityFile ${HOME_KEYS}/%C\n',
      'x',
      {
        // %C: SHA-1 of %l%h%p%r (and %j); checked against ssh by the ssh -G tests.
        identityFiles: [
          `/keys/${createHash('sha1').update('laptop.example.netx22ana').digest('hex')}`
        ]
      }
    ],
    [
      'IdentityFile none disables the defaults',
      'IdentityFile none\n',
      'x',
      { identityFiles: [], identityFilesExplicit: true }
    ],
    [
      'a relative IdentityFile',
      'IdentityFile keys/id\n',
      'x',
      { identityFiles: ['/srv/jupyter/keys/id'] }
    ],
    [
      'User tokens (OpenSSH 10)',
      'User %u-${LAB}\n',
      'x',
      { user: 'ana-lab42' }
    ],
    [
      'known hosts files',
      'UserKnownHostsFile ~/.ssh/kh_%h %d/kh2\nGlobalKnownHostsFile /etc/kh\nStrictHostKeyChecking accept-new\nHostKeyAlias Gate-Key\n',
      'g',
      {
        userKnownHostsFiles: [`${HOME}/.ssh/kh_g`, `${HOME}/kh2`],
        globalKnownHostsFiles: ['/etc/kh'],
        strictHostKeyChecking: 'accept-new',
        hostKeyAlias: 'gate-key'
      }
    ],
    [
      'known hosts none',
      'UserKnownHostsFile none\nStrictHostKeyChecking off\n',
      'n',
      { userKnownHostsFiles: [], strictHostKeyChecking: 'no' }
    ],
    [
      'ProxyCommand %k %n %r',
      'Host c\n HostKeyAlias KA\n User u\n ProxyCommand ssh -W %h:%p %r@gw-%n-%k\n',
      'c',
      {
        proxyCommand: ['ssh', '-W', 'c:22', 'u@gw-c-ka']
      }
    ],
    [
      'ProxyCommand with shell syntax',
      'ProxyCommand=ssh -q -W "[%h]:%p" gw\n',
      'x',
      {
        proxyCommand: ['/bin/bash', '-c', 'exec ssh -q -W "[x]:22" gw'],
        proxyCommandText: 'ssh -q -W "[%h]:%p" gw'
      }
    ],
    [
      'ProxyJump before ProxyCommand',
      'ProxyJump gw\nProxyCommand nc %h %p\n',
      'x',
      {
        proxyJump: [{ host: 'gw' }],
        proxyCommand: null,
        proxyCommandText: null
      }
    ],
    [
      'ProxyCommand before ProxyJump',
      'ProxyCommand nc %h %p\nProxyJump gw\n',
      'x',
      { proxyJump: [], proxyCommand: ['nc', 'x', '22'] }
    ],
    [
      'ProxyJump none does not block a later ProxyCommand (OpenSSH 10.3)',
      'Host x\n ProxyJump none\nHost *\n ProxyCommand nc %h %p\n ProxyJump gw\n',
      'x',
      { proxyJump: [], proxyCommand: ['nc', 'x', '22'] }
    ],
    [
      'ProxyCommand none blocks a later ProxyJump',
      'Host x\n ProxyCommand none\nHost *\n ProxyJump gw\n',
      'x',
      { proxyJump: [], proxyCommand: null }
    ],
    [
      'an empty config',
      '',
      'plain.example.org',
      {
        hostName: 'plain.example.org',
        port: 22,
        user: 'ana',
        identityFiles: OPENSSH_DEFAULTS,
        identityFilesExplicit: false,
        identitiesOnly: false,
        serverAliveInterval: 0,
        serverAliveCountMax: 3,
        connectTimeout: null,
        source: [],
        warnings: []
      }
    ]
  ])('%s', (_case, config, alias, expected) => {
    const env = { SHELL: '/bin/bash', LAB: 'lab42', HOME_KEYS: '/keys' };
    expect(resolve(alias, { config }, undefined, { env })).toMatchObject(
      expected
    );
  });

  it('treats a missing ~/.ssh/config as an empty one', () => {
    expect(brief(resolve('node1.example.org', {}))).toEqual({
      hostName: 'node1.example.org',
      port: 22,
      user: 'ana',
      identityFiles: OPENSSH_DEFAULTS,
      proxyJump: [],
      proxyCommand: null
    });
    expect(listHostAliases(options({}))).toEqual([]);
  });

  it("offers OpenSSH's default keys, security keys included, unless told the client's", () => {
    const openssh = resolve('node1.example.org', {});
    expect(openssh.identityFiles).toEqual(
      expect.arrayContaining([
        `${HOME}/.ssh/id_ecdsa_sk`,
        `${HOME}/.ssh/id_ed25519_sk`
      ])
    );
    const builtin = resolve('node1.example.org', {}, undefined, {
      defaultIdentityFiles: SSH2_DEFAULT_IDENTITY_FILES
    });
    expect(builtin.identityFiles).toEqual([
      `${HOME}/.ssh/id_rsa`,
      `${HOME}/.ssh/id_ecdsa`,
      `${HOME}/.ssh/id_ed25519`
    ]);
    expect(builtin.identityFilesExplicit).toBe(false);
    // A configured IdentityFile replaces the defaults, whichever they are.
    const explicit = resolve(
      'x',
      { config: 'IdentityFile ~/.ssh/mine\n' },
      undefined,
      { defaultIdentityFiles: SSH2_DEFAULT_IDENTITY_FILES }
    );
    expect(explicit.identityFiles).toEqual([`${HOME}/.ssh/mine`]);
  });

  it('lets settings win like ssh -l -p -i -J', () => {
    const host = resolve(
      'x',
      {
        config: 'User u\nPort 2\nIdentityFile ~/.ssh/c\nProxyCommand nc %h %p\n'
      },
      { user: 'bob', port: 2200, identityFile: '~/.ssh/s', jumpHost: 'g1,g2' }
    );
    expect(brief(host)).toEqual({
      hostName: 'x',
      port: 2200,
      user: 'bob',
      identityFiles: [`${HOME}/.ssh/s`, `${HOME}/.ssh/c`],
      proxyJump: [{ host: 'g1' }, { host: 'g2' }],
      proxyCommand: null
    });
    expect(host.source.slice(0, 4)).toEqual([
      'settings: User bob',
      'settings: Port 2200',
      'settings: IdentityFile ~/.ssh/s',
      'settings: ProxyJump g1,g2'
    ]);
  });

  it('warns about keywords it does not know, unless IgnoreUnknown says so', () => {
    const host = resolve('x', {
      config:
        'IgnoreUnknown UseKeychain,Foo*\nFooBar yes\nHostnme typo\nUseKeychain yes\n'
    });
    expect(host.warnings).toEqual([
      '~/.ssh/config line 3: "Hostnme" is not an ssh_config keyword; the line ' +
        'is ignored (ssh may refuse it: "Bad configuration option").'
    ]);
  });
});

describe('resolveHost: errors', () => {
  it.each<
    [string, string, IHostOverrides | undefined, SshConfigErrorCode, RegExp]
  >([
    [
      'a Port that is not a number',
      'Host x\n  Port 22x\n',
      undefined,
      'ssh-config-bad-port',
      /^~\/\.ssh\/config line 2: Port "22x" is not a port number \(1-65535\)/
    ],
    [
      'Port 0',
      'Port 0\n',
      undefined,
      'ssh-config-bad-port',
      /line 1: Port "0"/
    ],
    [
      'a bad Port in a block that does not apply',
      'Host other\n Port x\n',
      undefined,
      'ssh-config-bad-port',
      /line 2/
    ],
    [
      'a bad port in settings',
      '',
      { port: 70000 },
      'ssh-config-bad-port',
      /The port 70000 in the settings/
    ],
    [
      'HostName with two values',
      'HostName a b\n',
      undefined,
      'ssh-config-syntax',
      /line 1: HostName takes one value, not 2/
    ],
    [
      'an unclosed quote',
      '\n\nUser "ana\n',
      undefined,
      'ssh-config-syntax',
      /line 3: a quote/
    ],
    [
      'a bad ProxyJump',
      'ProxyJump gw:abc\n',
      undefined,
      'ssh-config-bad-proxyjump',
      /line 1: ProxyJump "gw:abc": "abc" in "gw:abc" is not a port number/
    ],
    [
      'a bad jump host in settings',
      '',
      { jumpHost: 'gw;id' },
      'ssh-config-bad-proxyjump',
      /The jump host setting: .*not a valid host name/
    ],
    [
      'an unknown Match criterion',
      'Match foo bar\n',
      undefined,
      'ssh-config-syntax',
      /"Match foo" is not a Match criterion/
    ],
    [
      'Match host without a value',
      'Match host\n',
      undefined,
      'ssh-config-syntax',
      /"Match host" needs a value/
    ],
    [
      'Match all with more',
      'Match all host x\n',
      undefined,
      'ssh-config-syntax',
      /cannot be combined/
    ],
    [
      'Match without criteria',
      'Match # nothing\n',
      undefined,
      'ssh-config-syntax',
      /at least one criterion/
    ],
    [
      'a bad time',
      'ServerAliveInterval 5x\n',
      undefined,
      'ssh-config-bad-value',
      /ServerAliveInterval "5x" is not a time/
    ],
    [
      'a bad count',
      'ServerAliveCountMax many\n',
      undefined,
      'ssh-config-bad-value',
      /not a number/
    ],
    [
      'a bad yes/no',
      'IdentitiesOnly maybe\n',
      undefined,
      'ssh-config-bad-value',
      /IdentitiesOnly must be yes or no/
    ],
    [
      'a bad StrictHostKeyChecking',
      'StrictHostKeyChecking sometimes\n',
      undefined,
      'ssh-config-bad-value',
      /yes, no, ask or accept-new/
    ],
    [
      'none among known hosts files',
      'UserKnownHostsFile a none\n',
      undefined,
      'ssh-config-bad-value',
      /"none" must be the only/
    ],
    [
      'a bad token in HostName',
      'HostName %r.example\n',
      undefined,
      'ssh-config-bad-token',
      /line 1: HostName "%r.example": "%r" is not a token here \(%h %% are\)/
    ],
    [
      'a bad token in IdentityFile',
      'IdentityFile ~/.ssh/id_%z\n',
      undefined,
      'ssh-config-bad-token',
      /IdentityFile "~\/.ssh\/id_%z": "%z" is not a token/
    ],
    [
      'an unset variable',
      'IdentityFile ${NO_SUCH_VAR}/id\n',
      undefined,
      'ssh-config-bad-token',
      /\$\{NO_SUCH_VAR\} is not set/
    ],
    [
      '%u in ProxyCommand, which ssh refuses',
      'ProxyCommand nc %u %p\n',
      undefined,
      'ssh-config-bad-token',
      /ProxyCommand "nc %u %p": "%u" is not a token here \(%h %k %n %p %r %% are\)/
    ],
    [
      'a user name with shell characters in settings',
      '',
      { user: 'a;b' },
      'ssh-config-bad-host',
      /The user name "a;b" in the settings/
    ]
  ])('%s', (_case, config, overrides, code, message) => {
    const error = caught(() => resolve('x', { config }, overrides));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it.each(['', '-oProxyCommand=x', 'a b', 'x;id', '$(id)', 'a|b'])(
    'refuses the alias %j',
    alias => {
      const error = caught(() => resolve(alias, {}));
      expect(error.code).toBe('ssh-config-bad-host');
      expect(error.message).toMatch(/is not a host name or ssh config alias/);
    }
  );

  it('says which file cannot be read', () => {
    const error = caught(() =>
      resolveHost('x', {
        ...options({}),
        readFile: () => {
          throw new Error('EACCES: permission denied');
        }
      })
    );
    expect(error.code).toBe('ssh-config-unreadable');
    expect(error.message).toBe(
      'Cannot read ~/.ssh/config (EACCES: permission denied). Make it ' +
        'readable by you, or remove it.'
    );
  });

  it('gives the location of a syntax error', () => {
    const error = caught(() =>
      resolve('x', { config: 'Include conf.d/*\n', 'conf.d/a': '\n\nPort\n' })
    );
    expect(error.location).toEqual({
      file: `${HOME}/.ssh/conf.d/a`,
      line: 3
    });
  });
});

// ---------------------------------------------------------------------------
// Against OpenSSH: `ssh -G` prints the configuration ssh resolves, without
// connecting. Every case below is resolved by both and compared.

/** `OpenSSH_9.2p1 …` when an OpenSSH client is installed, else null. */
const SSH_VERSION = (() => {
  const run = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  const text = `${run.stderr ?? ''}${run.stdout ?? ''}`;
  return run.error === undefined && text.startsWith('OpenSSH') ? text : null;
})();
const HAS_SSH = SSH_VERSION !== null;
const LOCAL = userInfo();
const SSH_ENV = { LAB: 'lab42' };

interface ISshCase {
  alias: string;
  overrides?: IHostOverrides;
}

interface ISshFixture {
  name: string;
  /** Files relative to ~/.ssh; `config` is given to ssh -F. */
  files: Record<string, string>;
  cases: (string | ISshCase)[];
}

/** What both sides are compared on. */
interface IComparable {
  hostname: string;
  user: string;
  port: number;
  identityfile: string[];
  proxyjump: IJumpHop[];
  proxycommand: string | null;
  serveraliveinterval: number;
  serveralivecountmax: number;
  connecttimeout: number | null;
  identitiesonly: boolean;
  stricthostkeychecking: string;
  userknownhostsfile: string[];
  hostkeyalias: string | null;
}

const COMPARISON_FIXTURES: ISshFixture[] = [
  {
    name: 'the cluster tutorial',
    files: { config: TUTORIAL },
    cases: [
      'hpc-gw1',
      'sgw1',
      'HPC-GW1',
      'elsewhere.example.org',
      { alias: 'hpc-gw1', overrides: { user: 'bob', port: 2200 } },
      { alias: 'hpc-gw1', overrides: { jumpHost: 'a@b.example.org:2022,c' } },
      { alias: 'sgw1', overrides: { jumpHost: 'bastion' } },
      { alias: 'hpc-gw1', overrides: { identityFile: '<key>' } }
    ]
  },
  {
    name: 'a site with ProxyJump chains',
    files: {
      config:
        SITE +
        `
Host ipv6-hop
  ProxyJump [2001:db8::1]:2200
Host ipv4-hop
  ProxyJump ana@10.0.0.7:2201
Host uri-hop
  ProxyJump ssh://bob@jump.example.org:2022
`
    },
    cases: [
      'cluster',
      'gw1',
      'gw2',
      'login.example.org',
      'unknown',
      'ipv6-hop',
      'ipv4-hop',
      'uri-hop',
      { alias: 'gw2', overrides: { user: 'ana', port: 2222, jumpHost: 'gw1' } },
      { alias: 'cluster', overrides: { port: 2200, user: 'bob' } },
      { alias: 'cluster', overrides: { jumpHost: 'none' } }
    ]
  },
  {
    name: 'Include of a conf.d glob, nested and inside Host blocks',
    files: INCLUDES,
    cases: ['alpha', 'beta', 'gamma', 'hpc', 'other']
  },
  {
    name: "a laptop's config: defaults first, wildcards, ControlMaster",
    files: {
      config: `
IgnoreUnknown UseKeychain
Host *
  AddKeysToAgent yes
  UseKeychain yes
  ServerAliveInterval 120
Host github.com
  User git
  IdentityFile ~/.ssh/id_github
  IdentitiesOnly yes
Host hpc-* !hpc-gw*
  ProxyJump hpc-gw1
  User alice
Host hpc-gw1 hpc-gw2
  HostName %h.hpc.example.ac.uk
  User alice
  IdentityFile ~/.ssh/id_hpc
  ControlMaster auto
  ControlPath ~/.ssh/cm-%r@%h:%p
  ControlPersist 10m
Host hpc-node??
  HostName %h.cluster.local
  ServerAliveInterval 15
Host *
  User fallback
  ServerAliveInterval 30
`
    },
    cases: [
      'github.com',
      'hpc-gw1',
      'hpc-gw2',
      'hpc-node01',
      'hpc-node1',
      'hpc-login',
      'other.example.org',
      { alias: 'hpc-node01', overrides: { user: 'bob' } }
    ]
  },
  {
    name: 'Host negations',
    files: {
      config: `
Host *.example.org !bastion.example.org
  ProxyJump bastion.example.org
Host bastion.example.org
  User jump
Host !*.example.org *
  Port 2022
Host !never
  ConnectTimeout 4
`
    },
    cases: ['a.example.org', 'bastion.example.org', 'other.net', 'never']
  },
  {
    name: 'Match blocks',
    files: {
      config: `
Match originalhost build* user !root
  Port 2201
Host build1
  HostName build1.ci.example.org
Match host *.ci.example.org
  User ci
  IdentityFile %d/.ssh/ci_%r_%h
Match user ci
  ConnectTimeout 15
Match localuser ${LOCAL.username} !host *.ci.example.org
  ServerAliveInterval 5
Match !localuser ${LOCAL.username}
  ServerAliveInterval 6
Match all
  ServerAliveCountMax 7
Match originalhost other,!nope
  Port 2202
Match host OTHER
  HostKeyAlias Other-Key
`
    },
    cases: [
      'build1',
      'other',
      { alias: 'other', overrides: { user: 'ci' } },
      { alias: 'build1', overrides: { user: 'root' } }
    ]
  },
  {
    name: 'Match final and canonical',
    files: {
      config: `
Host short
  HostName Short.Final.Example
Match final host *.final.example
  User finaluser
Host *.final.example
  Port 2345
Match canonical
  ServerAliveInterval 9
Match !final
  ConnectTimeout 3
`
    },
    cases: ['short', 'other']
  },
  {
    name: 'values, quoting and expansion',
    files: {
      config: `
Host short-*
  HostName %h.Example.ORG
Host ip
  HostName 10.1.2.3
Host ip6
  HostName FE80::1
Host pct
  HostName a%%b
HOST=eq
  hostname=eq.example.org
  PORT = 2200
  user = "quoted user"
Host svc
  Port ssh
Host q
  IdentityFile "~/.ssh/my key"
  IdentityFile ~/.ssh/other\\ key
  IdentityFile '~/.ssh/single'
Host times
  ServerAliveInterval 1h30m # keepalive
  ConnectTimeout 2m
Host tnone
  ConnectTimeout none
Host tnone
  ConnectTimeout 9
Host first
  Port 1001
  User first
  IdentityFile ~/.ssh/a1
Host first
  Port 1002
  User second
  IdentityFile ~/.ssh/a1
Host tok
  HostName Tok.Example
  User u
  Port 2
  IdentityFile %d/%u/%r/%h/%p/%n/%%
Host rel
  IdentityFile keys/id
Host none-id
  IdentityFile none
Host kh
  UserKnownHostsFile ~/.ssh/kh_%h %d/kh2_%r_%p_%n_%u_%i_%l_%L_%k_%C \${LAB}/x
  GlobalKnownHostsFile /etc/kh
  StrictHostKeyChecking accept-new
  HostKeyAlias Gate-Key
Host khnone
  UserKnownHostsFile none
  StrictHostKeyChecking off
  IdentitiesOnly true
Host strict-yes
  StrictHostKeyChecking yes
Host *
  IdentityFile ~/.ssh/all
`
    },
    cases: [
      'short-x',
      'ip',
      'ip6',
      'pct',
      'eq',
      'svc',
      'q',
      'times',
      'tnone',
      'first',
      'tok',
      'rel',
      'none-id',
      'kh',
      'khnone',
      'strict-yes',
      { alias: 'first', overrides: { identityFile: '<key>' } }
    ]
  },
  {
    name: 'ProxyCommand and ProxyJump, first one wins',
    files: {
      config: `
Host w
  ProxyCommand ssh -W %h:%p gw
Host q
  ProxyCommand=ssh -q -W "[%h]:%p" gw
Host nc
  ProxyCommand ssh gw exec nc %h %p # a comment
Host pj-first
  ProxyJump gw
  ProxyCommand ssh other -W %h:%p
Host pc-first
  ProxyCommand nc %h %p
  ProxyJump gw
Host pjnone
  ProxyJump none
Host pcnone
  ProxyCommand none
Host *
  ProxyCommand ssh fallback -W %h:%p
`
    },
    cases: [
      'w',
      'q',
      'nc',
      'pj-first',
      'pc-first',
      'pjnone',
      'pcnone',
      'plain',
      { alias: 'w', overrides: { jumpHost: 'j1,j2' } },
      { alias: 'plain', overrides: { jumpHost: 'none' } }
    ]
  },
  {
    name: 'no config file at all',
    files: { config: '' },
    cases: [
      'plain.example.org',
      {
        alias: 'plain',
        overrides: { user: 'u', port: 2022, jumpHost: 'x@j:23' }
      }
    ]
  }
];

/** Configs both ssh and resolveHost must refuse. */
const REFUSED_CONFIGS: [string, string][] = [
  ['a Port that is not a number', 'Host x\n  Port 22x\n'],
  ['Port 0', 'Port 0\n'],
  ['Port 65536', 'Port 65536\n'],
  ['a bad Port in a block that does not apply', 'Host other\n  Port x\n'],
  ['HostName with two values', 'HostName a b\n'],
  ['a keyword without a value', 'HostName\n'],
  ['an unclosed double quote', 'User "ana\n'],
  ['an unclosed single quote', "ProxyCommand echo it's\n"],
  ['a bad ProxyJump port', 'ProxyJump gw:abc\n'],
  ['an empty ProxyJump hop', 'ProxyJump a,,b\n'],
  ['an unknown Match criterion', 'Match foo bar\n'],
  ['Match host without a value', 'Match host\n'],
  ['Match all with more criteria', 'Match all host x\n'],
  ['a bad time', 'ServerAliveInterval 5x\n'],
  ['a bad count', 'ServerAliveCountMax many\n'],
  ['a bad yes/no', 'IdentitiesOnly maybe\n'],
  ['a bad StrictHostKeyChecking', 'StrictHostKeyChecking sometimes\n'],
  ['none among known hosts files', 'UserKnownHostsFile a none\n'],
  ['an unknown token in HostName', 'HostName %r.example\n'],
  ['a file that Includes itself', 'Include config\n'],
  [
    'an Include loop in a block that does not apply',
    'Host nothing\n  Include config\n'
  ],
  ['a self jump', 'Host x\n  ProxyJump x\n']
];

/** Odd but valid configs both must accept. */
const ACCEPTED_CONFIGS: [string, string][] = [
  ['a trailing backslash-free comment', 'HostName x # comment\n'],
  ['a # inside a word', 'HostName a#b\n'],
  ['tabs and CRLF', 'Host\tx\r\n\tPort\t2\r\n'],
  ['an empty Host line after comments', 'Host # nothing\n  Port 3\n'],
  ['Include of nothing', 'Include nothing/*.conf\n'],
  ['ConnectTimeout none', 'ConnectTimeout none\n'],
  ['Host with = and spaces', 'Host = x y\n']
];

(HAS_SSH ? describe : describe.skip)(
  HAS_SSH
    ? `the same as ssh -G of ${SSH_VERSION!.split(/[ ,]/)[0]}`
    : 'the same as ssh -G (SKIPPED: no OpenSSH client "ssh" on PATH)',
  () => {
    let root: string;
    let key: string;

    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), 'ssh-config-spec-'));
      key = join(root, 'settings_key');
      writeFileSync(key, 'not a key\n');
    });

    afterAll(() => {
      rmSync(root, { recursive: true, force: true });
    });

    /** A fresh HOME with the files under .ssh/. */
    function makeHome(files: Record<string, string>): string {
      const home = mkdtempSync(join(root, 'home-'));
      for (const [name, text] of Object.entries(files)) {
        const path = join(home, '.ssh', name);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, text);
      }
      return home;
    }

    function withKey(overrides: IHostOverrides = {}): IHostOverrides {
      return overrides.identityFile === '<key>'
        ? { ...overrides, identityFile: key }
        : overrides;
    }

    /** Run ssh -G; null when ssh refuses the config. */
    function sshG(
      home: string,
      alias: string,
      overrides: IHostOverrides
    ): Map<string, string[]> | null {
      const args = ['-G', '-F', join(home, '.ssh', 'config')];
      if (overrides.user) {
        args.push('-l', overrides.user);
      }
      if (overrides.port) {
        args.push('-p', String(overrides.port));
      }
      if (overrides.identityFile) {
        args.push('-i', overrides.identityFile);
      }
      if (overrides.jumpHost) {
        args.push('-J', overrides.jumpHost);
      }
      args.push(alias);
      const run = spawnSync('ssh', args, {
        encoding: 'utf8',
        env: { ...process.env, ...SSH_ENV, HOME: home },
        input: '',
        timeout: 10000
      });
      if (run.status !== 0) {
        return null;
      }
      const values = new Map<string, string[]>();
      for (const line of run.stdout.split('\n')) {
        const space = line.indexOf(' ');
        if (space > 0) {
          const name = line.slice(0, space);
          values.set(name, [
            ...(values.get(name) ?? []),
            line.slice(space + 1)
          ]);
        }
      }
      return values;
    }

    function ours(
      home: string,
      alias: string,
      overrides: IHostOverrides
    ): IResolvedHost {
      return resolveHost(alias, {
        home,
        localUser: LOCAL.username,
        localHostName: hostname(),
        uid: process.getuid?.() ?? 0,
        env: { ...process.env, ...SSH_ENV, HOME: home },
        configPath: join(home, '.ssh', 'config'),
        systemConfigPath: null,
        // What this ssh tries by default (id_dsa and id_xmss vary by build).
        defaultIdentityFiles: opensshDefaultIdentityFiles(),
        overrides
      });
    }

    /** `~/…` for both homes, so ssh's pw_dir and our HOME compare. */
    function tilde(path: string, home: string): string {
      for (const prefix of [home, LOCAL.homedir]) {
        if (path.startsWith(prefix + '/')) {
          return '~' + path.slice(prefix.length);
        }
      }
      return path;
    }

    function fromSsh(
      values: Map<string, string[]>,
      home: string,
      alias: string
    ): IComparable {
      const one = (name: string) => values.get(name)?.[0] ?? null;
      const hostName = one('hostname')!;
      const user = one('user')!;
      const port = one('port')!;
      // ssh -G prints IdentityFile as configured; expand the tokens the
      // fixtures use with the values ssh printed.
      const identityfile = (values.get('identityfile') ?? [])
        .filter(f => f !== 'none')
        .map(f =>
          f
            .replace(/^~\//, home + '/')
            .replace(/\$\{LAB\}/g, SSH_ENV.LAB)
            .replace(
              /%([a-z%])/g,
              (_, t: string) =>
                ({
                  d: home,
                  u: LOCAL.username,
                  r: user,
                  h: hostName,
                  p: port,
                  n: alias,
                  '%': '%'
                })[t] ?? `%${t}`
            )
        )
        .map(f => (f.startsWith('/') ? f : join(process.cwd(), f)))
        .map(f => tilde(f, home));
      const jump = one('proxyjump');
      const timeout = one('connecttimeout');
      const strict = one('stricthostkeychecking')!;
      return {
        hostname: hostName,
        user,
        port: Number(port),
        identityfile: [...new Set(identityfile)],
        proxyjump: jump === null ? [] : parseProxyJump(jump),
        proxycommand: one('proxycommand'),
        serveraliveinterval: Number(one('serveraliveinterval')),
        serveralivecountmax: Number(one('serveralivecountmax')),
        connecttimeout: timeout === 'none' ? null : Number(timeout),
        identitiesonly: one('identitiesonly') === 'yes',
        stricthostkeychecking: { true: 'yes', false: 'no' }[strict] ?? strict,
        // ssh prints `none` as it is and keeps relative paths relative.
        userknownhostsfile: (one('userknownhostsfile') ?? '')
          .split(' ')
          .filter(f => f !== '' && f !== 'none')
          .map(f => (f.startsWith('/') ? f : join(process.cwd(), f)))
          .map(f => tilde(f, home)),
        hostkeyalias: one('hostkeyalias')
      };
    }

    function fromOurs(host: IResolvedHost, home: string): IComparable {
      return {
        hostname: host.hostName,
        user: host.user,
        port: host.port,
        identityfile: host.identityFiles.map(f => tilde(f, home)),
        proxyjump: host.proxyJump,
        proxycommand: host.proxyCommandText,
        serveraliveinterval: host.serverAliveInterval,
        serveralivecountmax: host.serverAliveCountMax,
        connecttimeout: host.connectTimeout,
        identitiesonly: host.identitiesOnly,
        stricthostkeychecking: host.strictHostKeyChecking,
        userknownhostsfile: host.userKnownHostsFiles.map(f => tilde(f, home)),
        hostkeyalias: host.hostKeyAlias
      };
    }

    describe.each(COMPARISON_FIXTURES.map(f => [f.name, f] as const))(
      '%s',
      (_name, fixture) => {
        let home: string;
        beforeAll(() => {
          home = makeHome(fixture.files);
        });

        it.each(
          fixture.cases.map(c => {
            const { alias, overrides } =
              typeof c === 'string' ? { alias: c, overrides: undefined } : c;
            return [
              `${alias}${overrides ? ' ' + JSON.stringify(overrides) : ''}`,
              alias,
              overrides ?? {}
            ] as const;
          })
        )('%s', (_label, alias, overrides) => {
          const settings = withKey(overrides);
          const host = ours(home, alias, settings);
          const ssh = sshG(home, alias, settings);
          expect(ssh).not.toBeNull();
          expect(fromOurs(host, home)).toEqual(fromSsh(ssh!, home, alias));
        });
      }
    );

    it.each(REFUSED_CONFIGS)('both refuse %s', (_case, config) => {
      const home = makeHome({ config });
      expect(sshG(home, 'x', {})).toBeNull();
      expect(() => ours(home, 'x', {})).toThrow(SshConfigError);
    });

    it.each(ACCEPTED_CONFIGS)('both accept %s', (_case, config) => {
      const home = makeHome({ config });
      const ssh = sshG(home, 'x', {});
      expect(ssh).not.toBeNull();
      const host = ours(home, 'x', {});
      expect(fromOurs(host, home)).toEqual(fromSsh(ssh!, home, 'x'));
    });

    describe('random configs made of realistic lines (seeded)', () => {
      /** A small deterministic generator (an LCG), so failures repeat. */
      function generator(seed: number): <T>(choices: readonly T[]) => T {
        let state = seed;
        return choices => {
          state = (state * 1103515245 + 12345) % 2147483648;
          return choices[Math.floor((state / 2147483648) * choices.length)];
        };
      }

      const PATTERNS = [
        'a1',
        'a*',
        'b?',
        '!b2',
        '*',
        'c1',
        'gw',
        '!gw',
        '*.x',
        'zz'
      ];
      const MATCHES = [
        'Match host a*',
        'Match host=a1',
        'Match originalhost b1',
        'Match originalhost a*,!a2',
        'Match user u1',
        'Match !user u1',
        'Match user u2 host b*',
        'Match !host c1',
        'Match host *.x',
        'Match all',
        'Match final',
        'Match final host *.x',
        'Match canonical',
        `Match localuser ${LOCAL.username}`
      ];
      const LINES = [
        'HostName %h.x',
        'HostName real.example',
        'HostName A.B',
        'HostName c1.X',
        'HostName %h',
        'HostName 10.0.0.%h',
        'hostname = "Q.x"',
        'User u1',
        'User u2',
        'user="u4"',
        'Port 2201',
        'PORT=2204',
        'IdentityFile ~/.ssh/k1',
        'IdentityFile %d/k2_%r',
        'IdentityFile ~/.ssh/k3_%h',
        'IdentityFile "~/.ssh/k 4"',
        'IdentityFile none',
        'ProxyJump gw',
        'ProxyJump u@gw2:2022',
        'ProxyJump g1,g2',
        'ProxyJump none',
        'ProxyJump ssh://u5@j5:2205',
        'ProxyJump [::1]:2206',
        'ProxyCommand ssh -W %h:%p pc',
        'ProxyCommand=ssh -q -W "[%h]:%p" q',
        'ProxyCommand none',
        'ServerAliveInterval 10',
        'ServerAliveInterval 1h2m3s',
        'ServerAliveCountMax 5',
        'ConnectTimeout 5',
        'ConnectTimeout none',
        'IdentitiesOnly yes',
        'IdentitiesOnly no',
        'StrictHostKeyChecking accept-new',
        'StrictHostKeyChecking no',
        'UserKnownHostsFile ~/.ssh/kh_%h',
        'UserKnownHostsFile ~/.ssh/a ~/.ssh/b',
        'UserKnownHostsFile none',
        'HostKeyAlias KA1',
        'CanonicalizeHostname yes',
        'Compression yes'
      ];
      const BAD_LINES = [
        'Port 0',
        'HostName a b',
        'Match foo bar',
        'ProxyJump a,,b',
        'ServerAliveInterval x',
        'User "oops',
        'HostName %r'
      ];

      function randomFile(
        pick: <T>(choices: readonly T[]) => T,
        lines: number,
        includes: boolean
      ): string {
        const out: string[] = [];
        for (let i = 0; i < lines; i++) {
          const kind = pick([0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 4]);
          if (kind === 0) {
            const n = pick([1, 1, 2, 3]);
            out.push(
              `Host ${Array.from({ length: n }, () => pick(PATTERNS)).join(' ')}`
            );
          } else if (kind === 1) {
            out.push(pick(MATCHES));
          } else if (kind === 2) {
            out.push(pick(['', '  ']) + pick(LINES));
          } else if (kind === 3 && includes) {
            out.push(
              '  Include ' + pick(['inc/*.conf', 'inc/1.conf', 'nope.conf'])
            );
          } else if (kind === 4 && pick([0, 0, 0, 0, 1]) === 1) {
            out.push(pick(BAD_LINES));
          }
        }
        return out.join('\n') + '\n';
      }

      it.each(Array.from({ length: 25 }, (_, i) => i + 1))(
        'config #%i: six aliases agree',
        seed => {
          const pick = generator(seed);
          const files = {
            config: randomFile(pick, 12, true),
            'inc/1.conf': randomFile(pick, 6, false),
            'inc/2.conf': randomFile(pick, 6, false)
          };
          const home = makeHome(files);
          const mismatches: unknown[] = [];
          for (const alias of ['a1', 'b1', 'b2', 'c1', 'gw', 'zz']) {
            const overrides = pick<IHostOverrides>([
              {},
              {},
              { user: 'u1' },
              { port: 2999 }
            ]);
            const ssh = sshG(home, alias, overrides);
            let host: IResolvedHost | null = null;
            try {
              host = ours(home, alias, overrides);
            } catch (err) {
              if (!(err instanceof SshConfigError)) {
                throw err;
              }
            }
            const theirs =
              ssh && host ? fromSsh(ssh, home, alias) : ssh !== null;
            const mine = host ? fromOurs(host, home) : host !== null;
            if (JSON.stringify(theirs) !== JSON.stringify(mine)) {
              mismatches.push({ alias, overrides, ssh: theirs, ours: mine });
            }
          }
          expect({ files, mismatches }).toEqual({ files, mismatches: [] });
        }
      );
    });

    describe('deliberate differences', () => {
      it('OpenSSH before 10.1 reads the files again for Match !final; we do not', () => {
        const home = makeHome({
          config: 'Match !final\nMatch canonical\n  Port 2100\n'
        });
        expect(['2100', '22']).toContain(sshG(home, 'x', {})!.get('port')![0]);
        expect(ours(home, 'x', {}).port).toBe(22);
      });

      it('ssh runs Match exec; we skip the block and warn', () => {
        const home = makeHome({ config: 'Match exec true\n  Port 2022\n' });
        expect(sshG(home, 'x', {})!.get('port')).toEqual(['2022']);
        const host = ours(home, 'x', {});
        expect(host.port).toBe(22);
        expect(host.warnings[0]).toMatch(/exec "true" is not evaluated/);
      });

      it('ssh refuses an unknown keyword; we warn and go on', () => {
        const home = makeHome({ config: 'Hostnme typo\n' });
        expect(sshG(home, 'x', {})).toBeNull();
        expect(ours(home, 'x', {}).warnings[0]).toMatch(/"Hostnme" is not/);
      });

      it('ssh -G leaves IdentityFile and ProxyCommand tokens for later; we expand them now', () => {
        for (const config of [
          'IdentityFile ~/.ssh/id_%z\n',
          'ProxyCommand nc %u %p\n'
        ]) {
          const home = makeHome({ config });
          expect(sshG(home, 'x', {})).not.toBeNull();
          expect(caught(() => ours(home, 'x', {})).code).toBe(
            'ssh-config-bad-token'
          );
        }
      });

      it('OpenSSH 9.2 takes ~/.ssh/%n.conf literally; 9.9+ and we expand it', () => {
        const home = makeHome({
          config: 'Include %n.conf\n',
          'x.conf': 'Port 2999\n',
          '%n.conf': 'Port 2998\n'
        });
        const port = sshG(home, 'x', {})!.get('port')![0];
        expect(['2998', '2999']).toContain(port);
        expect(ours(home, 'x', {}).port).toBe(2999);
      });
    });
  }
);

/**
 * Why an OpenSSH master could not log in, from what ssh printed: the same
 * error codes, and as far as possible the same advice, as the built-in
 * client gives (connect.ts, auth.ts, known-hosts.ts).
 */
import type { ErrorCode } from '../../../common/api';
import { SidecarError } from '../../errors';
import type { IResolvedHost } from '../config';
import { quoteArg } from '../../shell/quote';

interface IRule {
  test: RegExp;
  code: ErrorCode;
  message: (m: RegExpExecArray, said: string, stderr: string) => string;
}

/** The hop ssh names (`user@host` or a host name), else the login node. */
function hopNamed(
  route: readonly IResolvedHost[],
  name: string
): IResolvedHost {
  const host = name.includes('@')
    ? name.slice(name.lastIndexOf('@') + 1)
    : name;
  const bare = host.replace(/^\[|\](:\d+)?$/g, '');
  return (
    route.find(h => h.hostName === bare || h.alias === bare) ??
    route[route.length - 1]
  );
}

export function masterFailure(
  stderr: string,
  route: readonly IResolvedHost[],
  label: string
): SidecarError {
  const said = lastLines(stderr, 6);
  const last = route[route.length - 1];
  const jumps = route.length > 1;
  const rules: IRule[] = [
    {
      // The watchdog (master.ts) runs as `jlhpc-ssh`: its shell says so.
      test: /^jlhpc-ssh: (?:line )?(?:\d+: )?(?:exec: )?(\S+): (?:command not found|not found|No such file or directory|Permission denied)/m,
      code: 'ssh-config',
      message: m =>
        `OpenSSH's ${m[1]} could not be run on this computer. Install OpenSSH's client, or choose the built-in SSH client in the cluster's settings.`
    },
    {
      test: /REVOKED HOST KEY|revoked key/i,
      code: 'host-key-revoked',
      message: () =>
        `The host key of ${last.alias} is marked as revoked in known_hosts; not connecting. ssh said: ${said}`
    },
    {
      test: /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/,
      code: 'host-key-changed',
      message: (_m, _s, all) => {
        const offending = /Offending \S+ key in (\S+):(\d+)/.exec(all);
        const remove = /ssh-keygen -f "?([^"\n]+)"? -R "?([^"\n]+)"?/.exec(all);
        const hint = remove
          ? `ssh-keygen -f ${quoteArg(remove[1])} -R ${quoteArg(remove[2])}`
          : `ssh-keygen -R ${quoteArg(last.hostName)}`;
        return (
          `The host key of ${last.alias} has changed since it was saved${offending ? ` (${offending[1]} line ${offending[2]})` : ''}. ` +
          'This can mean someone is intercepting the connection, or that the cluster got a new key: ask its admins. ' +
          `Not connecting. If the change is expected, remove the old key with \`${hint}\` and connect again.`
        );
      }
    },
    {
      test: /No \S+ host key is known for (\S+) and you have requested strict checking/,
      code: 'host-key-unknown',
      message: m =>
        `The host key of ${m[1]} is not in known_hosts, and StrictHostKeyChecking is yes: not connecting.`
    },
    {
      test: /Host key verification failed/,
      code: 'host-key-rejected',
      message: () =>
        `The host key of ${last.alias} was not accepted; not connecting.`
    },
    {
      test: /Could not resolve hostname ([^:\s]+): (.*)/,
      code: 'unreachable',
      message: m =>
        `Could not resolve the host name ${m[1]}: ${m[2].trim()}. Check the host name, or your network and VPN.`
    },
    {
      test: /stdio forwarding failed|channel \d+: open failed: (.*)/,
      code: 'unreachable',
      message: m =>
        `The jump host ${route[route.length - 2]?.alias ?? ''} could not connect to ${last.hostName} port ${last.port}${m[1] ? `: ${m[1].trim()}` : ''}. Check the host name and port.`
    },
    {
      test: /connect to host (\S+) port (\d+): Connection refused/,
      code: 'unreachable',
      message: m =>
        `${m[1]} port ${m[2]} refused the connection: no SSH server listens there. Check the host name and port.`
    },
    {
      test: /connect to host (\S+) port (\d+): (?:Connection timed out|Operation timed out)|Connection (?:to (\S+) port (\d+) )?timed out during banner exchange|Connection to (\S+) port (\d+) timed out/,
      code: 'connect-timeout',
      message: (_m, _said, all) => {
        const at = /(?:connect to host|Connection to) (\S+) port (\d+)/.exec(
          all
        );
        return `${at ? `${at[1]} port ${at[2]}` : label} did not answer within the connect timeout. Check the host name, or your network and VPN.`;
      }
    },
    {
      test: /connect to host (\S+) port (\d+): (.*)/,
      code: 'unreachable',
      message: m => `Could not reach ${m[1]} port ${m[2]}: ${m[3].trim()}.`
    },
    {
      test: /(\S+): Permission denied \(([^)]*)\)/,
      code: 'auth-failed',
      message: m => {
        const hop = hopNamed(route, m[1]);
        const who = hop === last ? label : `The jump host ${hop.alias}`;
        const keys = hop.identityFiles.join(', ');
        return (
          `${who} refused the login. The server offers: ${m[2]}. ` +
          (keys ? `Keys for it: ${keys}. ` : '') +
          'Check the user name and key, or set up a key from the cluster’s menu.'
        );
      }
    },
    {
      test: /Too many authentication failures/,
      code: 'auth-failed',
      message: () =>
        `${label} refused the login: too many authentication failures. Set IdentitiesOnly yes and one IdentityFile.`
    },
    {
      test: /Bad configuration option|bad configuration options|Unsupported option|keyword \S+ extra arguments|Invalid \S+ ["']|Unsupported \S+ ["']|missing argument/,
      code: 'ssh-config',
      message: () => `ssh refused its options: ${said}`
    }
  ];
  for (const rule of rules) {
    const m = rule.test.exec(stderr);
    if (m) {
      return new SidecarError(rule.code, rule.message(m, said, stderr));
    }
  }
  const proxy = route[0].proxyCommandText;
  if (proxy && !jumps) {
    // What the command said, without ssh's own lines about the closed pipe.
    const own = lastLines(
      stderr
        .split('\n')
        .filter(
          l =>
            !/^(kex_exchange_identification|ssh_exchange_identification|Connection closed by|Connection reset by)/.test(
              l.trim()
            )
        )
        .join('\n')
    );
    return new SidecarError(
      'proxy-command-failed',
      `The ProxyCommand for ${route[0].alias} (${proxy}) ended before the connection was made${own ? `: ${own}` : '.'}`
    );
  }
  return new SidecarError(
    'connection-lost',
    `Connecting to ${label} failed${said ? `: ${said}` : '.'}`
  );
}

/** The last few meaningful lines of ssh's stderr, on one line. */
export function lastLines(text: string, count = 4): string {
  return text
    .split(/\r?\n/)
    .map(l => l.trim())
    .filter(l => l && !/^OpenSSH_|^debug\d: /.test(l))
    .slice(-count)
    .join(' ');
}

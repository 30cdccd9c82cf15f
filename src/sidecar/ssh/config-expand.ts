/**
 * The small algorithms ssh_config resolution needs, each following OpenSSH:
 * `%` tokens and `${VAR}` (misc.c
 * `percent_dollar_expand`), `~` (misc.c `tilde_expand`), the `%C` hash
 * (readconf.c `ssh_connection_hash`) and Include globs (glob(3)).
 */
import { createHash } from 'crypto';
import { isIP } from 'net';

export { expandTilde } from '../paths';
export { matchHostname, matchPattern, matchPatternList } from './host-patterns';

/** True for a literal IPv4 or IPv6 address (OpenSSH keeps their case). */
export function isAddress(host: string): boolean {
  return isIP(host) !== 0;
}

/**
 * OpenSSH's `percent_dollar_expand` (or `percent_expand` when `env` is
 * null): `%%` is `%`, `%x` is `tokens.x` and any other `%x` an error,
 * `${NAME}` is the environment variable NAME and an unset one an error.
 * `fail` turns a reason into the error to throw.
 */
export function expandTokens(
  s: string,
  tokens: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string | undefined>> | null,
  fail: (reason: string) => Error
): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (env !== null && c === '$' && s[i + 1] === '{') {
      const end = s.indexOf('}', i + 2);
      if (end < 0) {
        throw fail(`"\${" without a closing "}" in "${s}"`);
      }
      const name = s.slice(i + 2, end);
      if (name === '') {
        throw fail(`an empty "\${}" in "${s}"`);
      }
      const value = env[name];
      if (value === undefined) {
        throw fail(`the environment variable \${${name}} is not set`);
      }
      out += value;
      i = end;
      continue;
    }
    if (c !== '%') {
      out += c;
      continue;
    }
    const key = s[++i];
    if (key === '%') {
      out += '%';
    } else if (key === undefined) {
      throw fail(`a "%" at the end of "${s}" (write "%%" for a percent sign)`);
    } else if (Object.prototype.hasOwnProperty.call(tokens, key)) {
      out += tokens[key];
    } else {
      throw fail(
        `"%${key}" is not a token here (${Object.keys(tokens)
          .map(t => '%' + t)
          .join(' ')} %% are)`
      );
    }
  }
  return out;
}

/** `%C`: SHA-1 over local host, remote host, port, user and jump host. */
export function connectionHash(
  localHost: string,
  host: string,
  port: string,
  user: string,
  jumpHost: string
): string {
  return createHash('sha1')
    .update(localHost + host + port + user + jumpHost)
    .digest('hex');
}

/** True when a path has glob(3) wildcards. */
export function hasGlobMagic(path: string): boolean {
  return /[*?[]/.test(path);
}

/**
 * glob(3) for an absolute pattern, as OpenSSH's Include uses it: `*`, `?`
 * and `[…]` within one path component, names starting with `.` only matched
 * by a pattern starting with `.`, results sorted. A pattern without
 * wildcards is returned as it is (the caller finds out whether it exists).
 * `listDir` returns the names in a directory, or null when it is not one.
 */
export function globPaths(
  pattern: string,
  listDir: (dir: string) => string[] | null
): string[] {
  if (!hasGlobMagic(pattern)) {
    return [pattern];
  }
  const parts = pattern.split('/').filter(p => p !== '');
  let dirs = [pattern.startsWith('/') ? '/' : '.'];
  for (const part of parts) {
    const next: string[] = [];
    for (const dir of dirs) {
      const join = (name: string) =>
        dir === '/' ? '/' + name : `${dir}/${name}`;
      if (!hasGlobMagic(part)) {
        next.push(join(part.replace(/\\(.)/g, '$1')));
        continue;
      }
      const re = globComponentRegExp(part);
      for (const name of listDir(dir) ?? []) {
        // A matched name that a later component looks into must be a
        // directory; one that is not gets no listing and drops out there.
        if (re.test(name)) {
          next.push(join(name));
        }
      }
    }
    dirs = next;
  }
  return dirs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function globComponentRegExp(part: string): RegExp {
  let re = '';
  for (let i = 0; i < part.length; i++) {
    const c = part[i];
    if (c === '*') {
      re += i === 0 ? '(?!\\.)[^/]*' : '[^/]*';
    } else if (c === '?') {
      re += i === 0 ? '(?!\\.)[^/]' : '[^/]';
    } else if (c === '[') {
      const end = part.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = part.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) {
        body = body.slice(1);
      }
      const escaped = body.replace(/[\\\]^]/g, '\\$&');
      re += `${i === 0 ? '(?!\\.)' : ''}[${negate ? '^' : ''}${escaped}]`;
      i = end;
    } else if (c === '\\' && i + 1 < part.length) {
      re += escapeRegExp(part[++i]);
    } else {
      re += escapeRegExp(c);
    }
  }
  return new RegExp(`^${re}$`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

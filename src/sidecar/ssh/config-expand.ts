/**
 * The small algorithms ssh_config resolution needs, each following OpenSSH:
 * host patterns (match.c), `%` tokens and `${VAR}` (misc.c
 * `percent_dollar_expand`), `~` (misc.c `tilde_expand`), the `%C` hash
 * (readconf.c `ssh_connection_hash`) and Include globs (glob(3)).
 */
import { createHash } from 'crypto';
import { isIP } from 'net';

/**
 * OpenSSH's `match_pattern`: `*` matches any run of characters, `?` any one
 * character, everything else itself (case-sensitively). Linear in practice:
 * a `*` is never retried from more than one place at a time.
 */
export function matchPattern(s: string, pattern: string): boolean {
  let si = 0;
  let pi = 0;
  let starPi = -1;
  let starSi = 0;
  while (si < s.length) {
    if (pi < pattern.length && pattern[pi] === '*') {
      starPi = pi++;
      starSi = si;
    } else if (
      pi < pattern.length &&
      (pattern[pi] === '?' || pattern[pi] === s[si])
    ) {
      pi++;
      si++;
    } else if (starPi >= 0) {
      pi = starPi + 1;
      si = ++starSi;
    } else {
      return false;
    }
  }
  while (pi < pattern.length && pattern[pi] === '*') {
    pi++;
  }
  return pi === pattern.length;
}

/**
 * OpenSSH's `match_pattern_list`: a comma-separated list of patterns, each
 * possibly negated with `!`. 1 when a positive pattern matches and no
 * negated one does, -1 when a negated pattern matches, 0 otherwise.
 * `lower` lower-cases the patterns (for host names).
 */
export function matchPatternList(
  s: string,
  list: string,
  lower: boolean
): -1 | 0 | 1 {
  let positive = false;
  for (const item of list.split(',')) {
    const negated = item.startsWith('!');
    let pattern = negated ? item.slice(1) : item;
    if (pattern.length >= 1023) {
      return 0;
    }
    if (lower) {
      pattern = pattern.toLowerCase();
    }
    if (matchPattern(s, pattern)) {
      if (negated) {
        return -1;
      }
      positive = true;
    }
  }
  return positive ? 1 : 0;
}

/** OpenSSH's `match_hostname`: host names compare in lower case. */
export function matchHostname(host: string, list: string): boolean {
  return matchPatternList(host.toLowerCase(), list, true) === 1;
}

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

/**
 * OpenSSH's `tilde_expand`: `~` and `~/path` are the user's home, and so is
 * `~user/path` for the local user itself. Other users' homes are not known
 * here: null. Paths without `~` are returned as they are.
 */
export function expandTilde(
  path: string,
  home: string,
  localUser: string
): string | null {
  if (!path.startsWith('~')) {
    return path;
  }
  const slash = path.indexOf('/');
  const user = slash < 0 ? path.slice(1) : path.slice(1, slash);
  if (user !== '' && user !== localUser) {
    return null;
  }
  const rest = slash < 0 ? '' : path.slice(slash).replace(/^\/+/, '');
  return home.endsWith('/') ? home + rest : `${home}/${rest}`;
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

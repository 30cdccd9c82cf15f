/**
 * OpenSSH's host patterns (match.c): the one matcher of the sidecar, for
 * ssh_config Host and Match lines and for known_hosts host fields.
 */

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
 * `lower` lower-cases the patterns (for host names). A list is a string
 * (ssh_config) or its items (a known_hosts line's patterns).
 */
export function matchPatternList(
  s: string,
  list: string | readonly string[],
  lower: boolean
): -1 | 0 | 1 {
  let positive = false;
  for (const item of typeof list === 'string' ? list.split(',') : list) {
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

/**
 * Does `host` activate a `Host` line with these patterns? A matching
 * negated pattern wins (readconf.c); unlike `matchPatternList`, no length
 * limit and no case folding.
 */
export function hostLineMatches(
  host: string,
  patterns: readonly string[]
): boolean {
  let active = false;
  for (const arg of patterns) {
    const negated = arg.startsWith('!');
    if (matchPattern(host, negated ? arg.slice(1) : arg)) {
      if (negated) {
        return false;
      }
      active = true;
    }
  }
  return active;
}

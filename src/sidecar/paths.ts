/**
 * The sidecar's one way to write a local path with `~` and to read one:
 * messages show `~/.ssh/config`, settings and ssh_config may say `~/…`.
 */

/** `/home/ana/.ssh/config` → `~/.ssh/config`, for messages. */
export function displayPath(path: string, home: string): string {
  if (home && home !== '/' && path.startsWith(home + '/')) {
    return '~' + path.slice(home.length);
  }
  return path;
}

/**
 * `~`, `~/path` and `~user/path` for the local user itself expanded with
 * `home`, as OpenSSH's `tilde_expand` does. Other users' homes are not
 * known here: null. Paths without `~` are returned as they are.
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

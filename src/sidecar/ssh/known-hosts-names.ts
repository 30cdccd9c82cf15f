/**
 * The names known_hosts files store hosts under (plain or hashed, as
 * HashKnownHosts writes them), and OpenSSH's default files.
 */
import { createHmac, randomBytes } from 'crypto';
import { homedir } from 'os';

export const DEFAULT_SSH_PORT = 22;

/**
 * OpenSSH's default UserKnownHostsFile, as written in ssh_config (with
 * `~`); keys are added to the first.
 */
export const DEFAULT_USER_KNOWN_HOSTS_FILES: readonly string[] = [
  '~/.ssh/known_hosts',
  '~/.ssh/known_hosts2'
];

/** OpenSSH's default GlobalKnownHostsFile, read only. */
export const DEFAULT_GLOBAL_KNOWN_HOSTS_FILES: readonly string[] = [
  '/etc/ssh/ssh_known_hosts',
  '/etc/ssh/ssh_known_hosts2'
];

/** `DEFAULT_USER_KNOWN_HOSTS_FILES` in `home`. */
export function defaultUserKnownHostsFiles(home = homedir()): string[] {
  return DEFAULT_USER_KNOWN_HOSTS_FILES.map(f => `${home}/${f.slice(2)}`);
}

/**
 * The name a host is stored under in known_hosts: the HostKeyAlias if set,
 * else the host for port 22 and `[host]:port` otherwise; in lower case, as
 * ssh lowercases both before looking them up.
 */
export function knownHostsName(
  host: string,
  port: number = DEFAULT_SSH_PORT,
  hostKeyAlias?: string
): string {
  if (hostKeyAlias) {
    return hostKeyAlias.toLowerCase();
  }
  const lower = host.toLowerCase();
  return port === DEFAULT_SSH_PORT || port === 0 ? lower : `[${lower}]:${port}`;
}

const HASH_MAGIC = '|1|';
export const SHA1_BYTES = 20;

/** OpenSSH HashKnownHosts form of a name; a fresh salt unless one is given. */
export function hashKnownHostsName(
  name: string,
  salt: Buffer = randomBytes(SHA1_BYTES)
): string {
  const mac = createHmac('sha1', salt).update(name).digest('base64');
  return `${HASH_MAGIC}${salt.toString('base64')}|${mac}`;
}

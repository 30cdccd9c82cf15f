/**
 * Which SSH client a cluster's connection uses, and what the local OpenSSH
 * does by default: both asked of this computer's `ssh` once, then cached.
 */
import { spawnSync } from 'child_process';

import type { IClusterConfig } from '../../common/settings';
import {
  OPENSSH_DEFAULT_IDENTITY_FILES,
  SSH2_DEFAULT_IDENTITY_FILES
} from '../ssh/config';
import type { SshClientKind } from '../ssh/connection';

let opensshUsable: boolean | null = null;

/**
 * The SSH client a cluster's connection uses. 'auto' is OpenSSH when this
 * computer's `ssh` is OpenSSH 8.4 or later (SSH_ASKPASS_REQUIRE, which
 * routes every question to JupyterLab) and can multiplex: not on Windows,
 * whose OpenSSH has no ControlMaster. Else the built-in client.
 */
export function sshClientFor(config: IClusterConfig): SshClientKind {
  if (config.sshClient === 'openssh' || config.sshClient === 'builtin') {
    return config.sshClient;
  }
  if (opensshUsable === null) {
    const run =
      process.platform === 'win32'
        ? null
        : spawnSync('ssh', ['-V'], { encoding: 'utf8', timeout: 5000 });
    opensshUsable =
      run !== null && run.status === 0 && opensshCanAskpass(run.stderr);
  }
  return opensshUsable ? 'openssh' : 'builtin';
}

/** Whether `ssh -V` names OpenSSH 8.4 or later. */
export function opensshCanAskpass(version: string): boolean {
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(version);
  return !!m && (Number(m[1]) > 8 || (Number(m[1]) === 8 && Number(m[2]) >= 4));
}

const opensshDefaults = new Map<string, readonly string[]>();

/**
 * The names in ~/.ssh that the local OpenSSH tries when no IdentityFile is
 * configured, as its `ssh -G` prints them for a config that sets none:
 * which of id_xmss and id_dsa are there depends on how and when it was
 * built. `OPENSSH_DEFAULT_IDENTITY_FILES` when `ssh -G` gives no answer.
 */
export function opensshDefaultIdentityFiles(ssh = 'ssh'): readonly string[] {
  let names = opensshDefaults.get(ssh);
  if (!names) {
    // -F /dev/null: neither the user's nor the system's config is read.
    const run = spawnSync(
      ssh,
      ['-G', '-F', '/dev/null', '--', 'jupyterlab-hpc.invalid'],
      { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] }
    );
    const parsed =
      run.status === 0 ? parseDefaultIdentityFiles(run.stdout) : [];
    names = parsed.length > 0 ? parsed : OPENSSH_DEFAULT_IDENTITY_FILES;
    opensshDefaults.set(ssh, names);
  }
  return names;
}

/** The `identityfile ~/.ssh/<name>` lines of `ssh -G` output, as names. */
export function parseDefaultIdentityFiles(output: string): string[] {
  const names: string[] = [];
  for (const line of output.split('\n')) {
    const m = /^identityfile ~\/\.ssh\/([^/\s]+)$/.exec(line.trim());
    if (m) {
      names.push(m[1]);
    }
  }
  return names;
}

/** The identity files a client tries by default (see `resolveRoute`). */
export function defaultIdentityFilesFor(
  client: SshClientKind
): readonly string[] {
  return client === 'openssh'
    ? opensshDefaultIdentityFiles()
    : SSH2_DEFAULT_IDENTITY_FILES;
}

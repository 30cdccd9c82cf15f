/**
 * A cluster's route, resolved from the user's ssh_config as `ssh` would
 * resolve it with the cluster's settings given as command-line options.
 */
import { userInfo } from 'os';

import type { IClusterConfig } from '../../common/settings';
import { SidecarError } from '../errors';
import {
  IResolvedHost,
  IResolveOptions,
  resolveRoute,
  SshConfigError
} from '../ssh/config';

/** The local account ssh_config is resolved for. */
export interface ILocalAccount {
  /** The local user's home (for ~/.ssh). */
  home: string;
  env: NodeJS.ProcessEnv;
}

export function resolveOptions(account: ILocalAccount): IResolveOptions {
  return {
    home: account.home,
    localUser: userInfo().username,
    env: account.env
  };
}

/**
 * The hosts to connect through, first to last (see `resolveRoute`). The
 * settings act like `ssh -p -l -i -J`; `identityFile` replaces the
 * settings' one (key setup proves a login with the new key alone), and
 * `defaultIdentityFiles` are what the client that connects tries by default.
 * SshConfigError becomes SidecarError 'ssh-config'.
 */
export function clusterRoute(
  config: IClusterConfig,
  account: ILocalAccount,
  defaultIdentityFiles: readonly string[],
  identityFile?: string
): IResolvedHost[] {
  try {
    return resolveRoute(config.host, {
      ...resolveOptions(account),
      defaultIdentityFiles,
      overrides: {
        port: config.port ?? null,
        user: config.user || undefined,
        identityFile: identityFile ?? (config.identityFile || undefined),
        jumpHost: config.jumpHost || undefined
      }
    });
  } catch (err) {
    if (err instanceof SshConfigError) {
      throw new SidecarError('ssh-config', err.message);
    }
    throw err;
  }
}

/**
 * ssh-keygen + ssh-copy-id for one cluster: make (or reuse) a key, install
 * its public key through the cluster's connection (which logs in with
 * whatever works, asking for a password or code), then prove that a
 * key-only login works.
 */
import { userInfo } from 'os';

import type { IKeySetupRequest, IKeySetupResult } from '../../common/api';
import type { IClusterConfig } from '../../common/settings';
import { expandTilde } from '../paths';
import type { KeyCache } from '../ssh/auth';
import { SSH2_DEFAULT_IDENTITY_FILES } from '../ssh/config';
import { openRoute } from '../ssh/connect';
import type { SshConnection } from '../ssh/connection';
import {
  ensureKeyPair,
  installKeyCommand,
  parseInstallResult
} from '../ssh/keys';
import type { IPrompter } from '../ssh/prompter';
import { clusterRoute, ILocalAccount } from './route';

export interface IKeySetupContext {
  config: IClusterConfig;
  /** The cluster's connection, which installs the key. */
  connection: SshConnection;
  account: ILocalAccount;
  prompter: IPrompter;
  keys: KeyCache;
}

export async function setupKey(
  context: IKeySetupContext,
  request: IKeySetupRequest
): Promise<IKeySetupResult> {
  const { config, account } = context;
  const localUser = userInfo().username;
  const wanted = request.keyPath || `~/.ssh/id_ed25519_${config.name}`;
  const keyPath = expandTilde(wanted, account.home, localUser) ?? wanted;
  const key = await ensureKeyPair({
    path: keyPath,
    passphrase: request.passphrase || undefined,
    comment: `jupyterlab-hpc ${localUser}@${config.name}`,
    home: account.home
  });
  const out = await context.connection.run(
    installKeyCommand(key.publicKeyLine),
    { maxOutputBytes: 64 * 1024 }
  );
  const installed = parseInstallResult(out) === 'installed';
  return {
    keyPath: key.keyPath,
    created: key.created,
    installed,
    fingerprint: key.fingerprint,
    verified: await keyOnlyLogin(context, keyPath)
  };
}

/**
 * A separate connection with the built-in client that offers `keyPath`
 * alone: no agent, no other key, no prompt.
 */
async function keyOnlyLogin(
  context: IKeySetupContext,
  keyPath: string
): Promise<boolean> {
  const route = clusterRoute(
    context.config,
    context.account,
    SSH2_DEFAULT_IDENTITY_FILES,
    keyPath
  );
  const last = route[route.length - 1];
  last.identityFiles = [keyPath];
  last.identitiesOnly = true;
  try {
    const open = await openRoute(route, {
      prompter: context.prompter,
      keys: context.keys,
      home: context.account.home,
      agent: undefined,
      interactive: false,
      env: context.account.env
    });
    open.close();
    return true;
  } catch {
    return false;
  }
}

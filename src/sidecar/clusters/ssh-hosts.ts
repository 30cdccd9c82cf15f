/**
 * The Host aliases of the user's ssh config, each resolved as ssh would,
 * for the "Add cluster" dialog: a config error is shown, not thrown.
 */
import { userInfo } from 'os';

import type { ISshHostAlias, ISshHosts } from '../../common/api';
import { listHostAliases, resolveHost } from '../ssh/config';
import { ILocalAccount, resolveOptions } from './route';

export function listSshHosts(account: ILocalAccount): ISshHosts {
  const shown = '~/.ssh/config';
  let aliases: string[] = [];
  try {
    aliases = listHostAliases({
      home: account.home,
      localUser: userInfo().username
    });
  } catch (err) {
    return {
      aliases: [],
      configPath: shown,
      error: {
        code: 'ssh-config',
        message: (err as Error).message
      }
    };
  }
  let error: ISshHosts['error'] = null;
  const out: ISshHostAlias[] = aliases.map(alias => {
    try {
      const host = resolveHost(alias, resolveOptions(account));
      return {
        alias,
        hostName: host.hostName,
        user: host.user,
        port: host.port,
        via: host.proxyJump.length
          ? host.proxyJump.map(h => h.host).join(', ')
          : (host.proxyCommandText ?? '')
      };
    } catch (err) {
      error ??= { code: 'ssh-config', message: (err as Error).message };
      return { alias, hostName: null, user: null, port: null, via: '' };
    }
  });
  return { aliases: out, configPath: shown, error };
}

import { Notification } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { linkIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';

import { IAttachableSession, ISessionInfo } from '../../common/api';
import { toFailure } from '../clusters/model';
import { chooseAttachable } from '../sessions/attach-dialog';
import { ISessionsModel } from '../sessions/model';
import { IClusterSettings } from '../settings/model';
import { CommandIDs } from '../tokens';
import { ClusterArg, HitTest } from './cluster-arg';

export interface IAttachCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  settings: IClusterSettings;
  sessions: ISessionsModel;
  /** `app.contextMenuHitTest`, for the cluster rows' context menu. */
  hitTest?: HitTest | null;
  /** Show where the attached session is (the panel, at its cluster). */
  reveal: (session: ISessionInfo) => void;
  /** The choice; `chooseAttachable` unless a test replaces it. */
  choose?: (
    cluster: string,
    sessions: readonly IAttachableSession[],
    trans: TranslationBundle
  ) => Promise<string | null>;
}

/**
 * `CommandIDs.attachSession` (args `{ name }`): list the sessions on the
 * cluster that run or wait but are not followed here (started from another
 * computer), and attach the one chosen. Resolves with it, or null.
 */
export function addAttachCommand(ctx: IAttachCommandContext): void {
  const { commands, trans, settings, sessions } = ctx;
  const clusterArg = new ClusterArg(ctx.hitTest ?? null, trans);
  const known = (name: string) => settings.clusters.some(c => c.name === name);
  const choose = ctx.choose ?? chooseAttachable;
  const failed = (sentence: string) =>
    Notification.error(sentence, { autoClose: false });

  commands.addCommand(CommandIDs.attachSession, {
    label: args => {
      const name = clusterArg.of(args);
      return name && !args.isContextMenu
        ? trans.__('Sessions on %1 Started Elsewhere…', name)
        : trans.__('Sessions Started Elsewhere…');
    },
    caption: args => {
      const name = clusterArg.of(args);
      return name
        ? trans.__(
            'Attach to a JupyterLab session on %1 started from another computer',
            name
          )
        : trans.__(
            'Attach to a JupyterLab session on a cluster started from another computer'
          );
    },
    icon: linkIcon,
    isEnabled: args => {
      if (!sessions.available) {
        return false;
      }
      const name = clusterArg.of(args);
      return name === null
        ? clusterArg.asks(args) && settings.clusters.length > 0
        : known(name);
    },
    describedBy: clusterArg.schema(),
    execute: async args => {
      const name = await clusterArg.resolve(
        args,
        settings.clusters.map(c => c.name),
        trans.__('Sessions started elsewhere on')
      );
      if (name === null || !known(name)) {
        return null;
      }
      let found: IAttachableSession[];
      try {
        found = await sessions.attachable(name);
      } catch (err) {
        failed(
          trans.__(
            'The sessions on %1 could not be read: %2',
            name,
            toFailure(err).message
          )
        );
        return null;
      }
      const id = await choose(name, found, trans);
      const chosen = found.find(s => s.id === id);
      if (!chosen) {
        return null;
      }
      try {
        const session = await sessions.attach(name, chosen.id);
        ctx.reveal(session);
        return session;
      } catch (err) {
        failed(
          trans.__(
            'Job %1 on %2 could not be attached: %3',
            chosen.jobId,
            name,
            toFailure(err).message
          )
        );
        return null;
      }
    }
  });
}

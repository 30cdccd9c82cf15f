import { TranslationBundle } from '@jupyterlab/translation';
import { jupyterIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';

import { ISessionInfo } from '../../common/sessions';
import { IEnvironmentsModel } from '../envs/model';
import { ILaunchFormOptions, showLaunchDialog } from '../launch/launch-form';
import { ILaunchMemory } from '../launch/memory';
import { ISessionsModel } from '../sessions/model';
import { IClusterSettings } from '../settings/model';
import { CommandIDs } from '../tokens';
import { ClusterArg, HitTest } from './cluster-arg';

export interface ILaunchCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  settings: IClusterSettings;
  sessions: ISessionsModel;
  envs: IEnvironmentsModel | null;
  memory: ILaunchMemory | null;
  /** `app.contextMenuHitTest`, for the cluster rows' context menu. */
  hitTest?: HitTest | null;
  /** Show where the new session is (the panel, at its cluster). */
  reveal: (session: ISessionInfo) => void;
  /** The form itself; `showLaunchDialog` unless a test replaces it. */
  showForm?: (options: ILaunchFormOptions) => Promise<ISessionInfo | null>;
}

/**
 * `CommandIDs.launchSession` (args `{ name }`): the "JupyterLab on
 * <cluster>" form; on success the choices are remembered for the cluster
 * and the session is revealed. Resolves with the session, or null.
 */
export function addLaunchCommand(ctx: ILaunchCommandContext): void {
  const { commands, trans, settings, sessions } = ctx;
  const clusterArg = new ClusterArg(ctx.hitTest ?? null, trans);
  const known = (name: string) => settings.clusters.some(c => c.name === name);
  const showForm = ctx.showForm ?? showLaunchDialog;

  commands.addCommand(CommandIDs.launchSession, {
    label: args => {
      const name = clusterArg.of(args);
      if (args.isContextMenu) {
        return trans.__('Launch JupyterLab…');
      }
      return name
        ? trans.__('JupyterLab on %1', name)
        : trans.__('JupyterLab on a Cluster…');
    },
    caption: args => {
      const name = clusterArg.of(args);
      return name
        ? trans.__(
            'Start JupyterLab in a SLURM job on %1: choose the partition, resources and environment',
            name
          )
        : trans.__(
            'Start JupyterLab in a SLURM job on a cluster: choose the partition, resources and environment'
          );
    },
    icon: jupyterIcon,
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
        trans.__('Launch JupyterLab on')
      );
      if (name === null || !known(name)) {
        return null;
      }
      const session = await showForm({
        trans,
        cluster: name,
        sessions,
        settings,
        envs: ctx.envs,
        memory: ctx.memory
      });
      if (!session) {
        return null;
      }
      await ctx.memory?.remember(name, session.request).catch(() => undefined);
      ctx.reveal(session);
      return session;
    }
  });
}

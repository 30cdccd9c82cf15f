import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import {
  closeIcon,
  launchIcon,
  listIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { ISessionInfo } from '../../common/api';
import { toFailure } from '../clusters/model';
import { ISessionsModel } from '../sessions/model';
import { CommandIDs } from '../tokens';

export interface ISessionCommandContext {
  commands: CommandRegistry;
  trans: TranslationBundle;
  sessions: ISessionsModel;
  /** Open, or bring to the front, the log view of a session. */
  showLog: (id: string) => void;
  /** `window.open`; injectable for tests. */
  openWindow?: OpenWindow;
}

export type OpenWindow = (
  url: string,
  target: string,
  features?: string
) => Window | null;

const openInBrowser: OpenWindow = (url, target, features) =>
  window.open(url, target, features);

const idOf = (args: ReadonlyPartialJSONObject) => String(args.id ?? '');

/** "job 1234 on demo", how a confirmation names a session. */
export function jobName(session: ISessionInfo, trans: TranslationBundle) {
  return session.jobId
    ? trans.__('job %1 on %2', session.jobId, session.cluster)
    : trans.__('the job being submitted to %1', session.cluster);
}

/** Ask before cancelling: the allocation and unsaved work in it go. */
export async function confirmCancel(
  session: ISessionInfo,
  trans: TranslationBundle
): Promise<boolean> {
  const result = await showDialog({
    title: trans.__('Cancel %1?', jobName(session, trans)),
    body: trans.__(
      'The JupyterLab running in %1 stops and its allocation is given back; work it has not saved is lost.',
      jobName(session, trans)
    ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Keep it running') }),
      Dialog.warnButton({ label: trans.__('Cancel job') })
    ]
  });
  return result.button.accept;
}

/**
 * Open a session's JupyterLab in a new tab. The tab is opened at once, in
 * the click, because popup blockers allow `window.open` only then; the URL
 * (with its token) arrives a round trip later and the tab is sent there.
 * `noopener` would make `window.open` return null, so the blank tab is cut
 * from this page by `opener = null` before it leaves for the other origin.
 */
export async function openSessionTab(
  sessions: ISessionsModel,
  id: string,
  open: OpenWindow = openInBrowser
): Promise<void> {
  const tab = open('', '_blank');
  if (tab) {
    tab.opener = null;
  }
  let url: string;
  try {
    url = await sessions.openUrl(id);
  } catch (err) {
    tab?.close();
    throw err;
  }
  if (tab && !tab.closed) {
    tab.location.replace(url);
    return;
  }
  // Blocked (or closed already): a second try, now with noopener itself.
  open(url, '_blank', 'noopener');
}

/** Open, cancel, dismiss and show the log of a session (args `{ id }`). */
export function addSessionCommands(ctx: ISessionCommandContext): void {
  const { commands, trans, sessions } = ctx;
  const sessionOf = (args: ReadonlyPartialJSONObject) =>
    sessions.get(idOf(args));
  const name = (args: ReadonlyPartialJSONObject) => {
    const session = sessionOf(args);
    return session ? jobName(session, trans) : trans.__('the session');
  };
  const cancelling = new Set<string>();
  const describedBy = {
    args: {
      type: 'object' as const,
      properties: {
        id: {
          type: 'string',
          description: trans.__('The session id, as the sidecar lists it')
        }
      },
      required: ['id']
    }
  };
  const failed = (sentence: string) =>
    Notification.error(sentence, { autoClose: false });

  commands.addCommand(CommandIDs.openSession, {
    label: trans.__('Open JupyterLab'),
    caption: args =>
      trans.__('Open the JupyterLab of %1 in a new browser tab', name(args)),
    icon: launchIcon,
    isEnabled: args =>
      sessions.available && sessionOf(args)?.phase === 'running',
    describedBy,
    execute: async args => {
      const session = sessionOf(args);
      if (!session || session.phase !== 'running') {
        return;
      }
      try {
        await openSessionTab(
          sessions,
          session.id,
          ctx.openWindow ?? openInBrowser
        );
      } catch (err) {
        failed(
          trans.__(
            'The JupyterLab of %1 could not be opened: %2',
            jobName(session, trans),
            toFailure(err).message
          )
        );
      }
    }
  });

  commands.addCommand(CommandIDs.cancelSession, {
    label: args =>
      sessionOf(args)?.phase === 'ending'
        ? trans.__('Cancelling…')
        : trans.__('Cancel Job…'),
    caption: args =>
      trans.__(
        'Cancel %1 (scancel): its JupyterLab stops and the allocation is given back',
        name(args)
      ),
    icon: stopIcon,
    isEnabled: args => {
      const session = sessionOf(args);
      return (
        sessions.available &&
        session !== null &&
        session.phase !== 'ended' &&
        session.phase !== 'ending' &&
        !cancelling.has(session.id)
      );
    },
    describedBy,
    execute: async args => {
      const session = sessionOf(args);
      if (!session || session.phase === 'ended') {
        return;
      }
      if (!(await confirmCancel(session, trans))) {
        return;
      }
      cancelling.add(session.id);
      commands.notifyCommandChanged(CommandIDs.cancelSession);
      try {
        return await sessions.cancel(session.id);
      } catch (err) {
        failed(
          trans.__(
            '%1 could not be cancelled: %2',
            jobName(session, trans),
            toFailure(err).message
          )
        );
      } finally {
        cancelling.delete(session.id);
        commands.notifyCommandChanged(CommandIDs.cancelSession);
      }
    }
  });

  commands.addCommand(CommandIDs.dismissSession, {
    label: trans.__('Dismiss'),
    caption: args =>
      trans.__('Remove %1, which ended, from the list', name(args)),
    icon: closeIcon,
    isEnabled: args => sessions.available && sessionOf(args)?.phase === 'ended',
    describedBy,
    execute: async args => {
      const session = sessionOf(args);
      if (!session || session.phase !== 'ended') {
        return;
      }
      try {
        await sessions.dismiss(session.id);
      } catch (err) {
        failed(
          trans.__(
            '%1 could not be removed from the list: %2',
            jobName(session, trans),
            toFailure(err).message
          )
        );
      }
    }
  });

  commands.addCommand(CommandIDs.showSessionLog, {
    label: trans.__('Show Log'),
    caption: args => trans.__('Follow the output of %1', name(args)),
    icon: listIcon,
    isEnabled: args => sessionOf(args) !== null,
    describedBy,
    execute: args => {
      const id = idOf(args);
      if (sessions.get(id)) {
        ctx.showLog(id);
      }
    }
  });

  // The states decide which actions are enabled.
  sessions.changed.connect(() => commands.notifyCommandChanged());
}

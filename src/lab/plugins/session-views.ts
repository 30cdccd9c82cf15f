import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { addSessionCommands } from '../commands/sessions';
import { createSessionLogWidget, SessionLogView } from '../sessions/log-view';
import { ISessionsModel } from '../sessions/model';
import { SessionNotifier } from '../sessions/notifications';
import { IClusterSettings } from '../settings/model';
import {
  IHpcClusterSettings,
  IHpcSessions,
  TRANSLATION_DOMAIN
} from '../tokens';

/**
 * What the user does with sessions and hears about them: open, cancel,
 * dismiss and the log (commands and the log tab), and the notifications
 * when a session runs, ends or nears its wall time.
 */
export const sessionViewsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-hpc:session-views',
  description:
    'Open, cancel, dismiss and log commands for JupyterLab sessions in jobs, their log tab and their notifications.',
  autoStart: true,
  requires: [IHpcSessions],
  optional: [ITranslator, IHpcClusterSettings],
  activate: (
    app: JupyterFrontEnd,
    sessions: ISessionsModel,
    translator: ITranslator | null,
    settings: IClusterSettings | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const { commands } = app;

    const views = new Map<string, MainAreaWidget<SessionLogView>>();
    const showLog = (id: string) => {
      const open = views.get(id);
      if (open && !open.isDisposed) {
        app.shell.activateById(open.id);
        return;
      }
      const widget = createSessionLogWidget({ sessions, id, trans, commands });
      views.set(id, widget);
      widget.disposed.connect(() => views.delete(id));
      app.shell.add(widget, 'main', { mode: 'split-bottom' });
      app.shell.activateById(widget.id);
    };
    addSessionCommands({ commands, trans, sessions, showLog });

    const notifier = new SessionNotifier({
      sessions,
      commands,
      trans,
      minutesBeforeWallTime: settings?.sessionWarnings.minutesBeforeWallTime
    });
    settings?.changed.connect(() =>
      notifier.setMinutesBeforeWallTime(
        settings.sessionWarnings.minutesBeforeWallTime
      )
    );
  }
};

import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { ISessionInfo } from '../../common/api';
import { CommandIDs } from '../tokens';
import { secondsLeft, sessionStatus } from './messages';

export interface ISessionListProps {
  sessions: readonly ISessionInfo[];
  /** The configured clusters, for the "start one" buttons of the empty list. */
  clusters: readonly string[];
  commands: CommandRegistry;
  trans: TranslationBundle;
  /** Clock; injectable for tests. */
  now?: () => number;
}

/** Re-render every `ms` while `active`, so countdowns move between polls. */
function useTick(active: boolean, ms: number): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => {
    if (!active) {
      return;
    }
    const timer = setInterval(() => setTick(t => t + 1), ms);
    return () => clearInterval(timer);
  }, [active, ms]);
}

/**
 * The sessions of every cluster in the side panel: one row each with its
 * state in words and the actions that fit it. The times count on between
 * the sidecar's polls.
 */
export function SessionList(props: ISessionListProps): React.ReactElement {
  const { sessions, commands, trans } = props;
  const now = props.now ?? Date.now;
  useTick(
    sessions.some(s => s.phase !== 'ended' && s.phase !== 'queued'),
    1000
  );
  if (sessions.length === 0) {
    return (
      <>
        <EmptySessions {...props} />
        <StartedElsewhere {...props} />
      </>
    );
  }
  const at = now();
  return (
    <>
      <ul className="jp-HpcSessions-list">
        {sessions.map(session => (
          <SessionRow
            key={session.id}
            session={session}
            now={at}
            commands={commands}
            trans={trans}
          />
        ))}
      </ul>
      <StartedElsewhere {...props} />
    </>
  );
}

/**
 * The way to sessions this JupyterLab does not follow (started from another
 * computer): with one cluster it is named, with more the command asks.
 */
function StartedElsewhere(props: ISessionListProps): React.ReactElement | null {
  const { clusters, commands, trans } = props;
  if (!commands.hasCommand(CommandIDs.attachSession) || clusters.length === 0) {
    return null;
  }
  const args = clusters.length === 1 ? { name: clusters[0] } : {};
  return (
    <div className="jp-HpcSessions-elsewhere">
      <Button
        small={true}
        minimal={true}
        className="jp-HpcPanel-action"
        title={commands.caption(CommandIDs.attachSession, args)}
        disabled={!commands.isEnabled(CommandIDs.attachSession, args)}
        onClick={() => void commands.execute(CommandIDs.attachSession, args)}
      >
        {trans.__('Sessions started elsewhere…')}
      </Button>
    </div>
  );
}

function EmptySessions(props: ISessionListProps): React.ReactElement {
  const { clusters, commands, trans } = props;
  const canLaunch = commands.hasCommand(CommandIDs.launchSession);
  return (
    <div className="jp-HpcPanel-empty jp-HpcSessions-empty">
      <p>
        {canLaunch && clusters.length > 0
          ? trans.__(
              'No JupyterLab sessions. Start one from the launcher tile "JupyterLab on <cluster>", or here:'
            )
          : trans.__(
              'No JupyterLab sessions. Start one from the launcher tile "JupyterLab on <cluster>".'
            )}
      </p>
      {canLaunch && clusters.length > 0 && (
        <div className="jp-HpcPanel-actions">
          {clusters.map(name => (
            <Button
              key={name}
              small={true}
              className="jp-HpcPanel-action jp-HpcSessions-launch"
              title={commands.caption(CommandIDs.launchSession, { name })}
              disabled={!commands.isEnabled(CommandIDs.launchSession, { name })}
              onClick={() =>
                void commands.execute(CommandIDs.launchSession, { name })
              }
            >
              {trans.__('JupyterLab on %1…', name)}
            </Button>
          ))}
        </div>
      )}
    </div>
  );
}

function SessionRow(props: {
  session: ISessionInfo;
  now: number;
  commands: CommandRegistry;
  trans: TranslationBundle;
}): React.ReactElement {
  const { session, now, commands, trans } = props;
  const nameId = React.useId();
  const status = sessionStatus(session, now, trans);
  const args = { id: session.id };
  const action = (id: string, text: string, primary = false) => (
    <Button
      small={true}
      className={
        primary ? 'jp-HpcPanel-action jp-mod-accept' : 'jp-HpcPanel-action'
      }
      disabled={!commands.isEnabled(id, args)}
      title={commands.caption(id, args)}
      onClick={() => void commands.execute(id, args)}
    >
      {text}
    </Button>
  );
  const left = secondsLeft(session, now);
  return (
    <li
      className="jp-HpcSessions-row"
      aria-labelledby={nameId}
      data-session-id={session.id}
      data-phase={session.phase}
      data-seconds-left={left ?? undefined}
    >
      <div className="jp-HpcSessions-head">
        <span id={nameId} className="jp-HpcSessions-cluster">
          {session.cluster}
        </span>
        <span className="jp-HpcSessions-job">
          {session.jobId
            ? trans.__('job %1', session.jobId)
            : trans.__('not submitted yet')}
        </span>
      </div>
      <div className={`jp-HpcPanel-state jp-mod-${status.tone}`} role="status">
        <span className="jp-HpcPanel-dot" aria-hidden="true" />
        <span className="jp-HpcPanel-stateLabel">{status.label}</span>
      </div>
      {status.detail && (
        <div className="jp-HpcSessions-detail">{status.detail}</div>
      )}
      {session.attached && (
        <div className="jp-HpcSessions-detail jp-HpcSessions-origin">
          {session.origin?.host
            ? trans.__('attached, started on %1', session.origin.host)
            : trans.__('attached, started on another computer')}
        </div>
      )}
      {status.warning && (
        <div className="jp-HpcSessions-warning" role="alert">
          {session.schedulerUnreachable
            ? trans.__('Scheduler not answering')
            : trans.__('Port moved')}
          <span className="jp-HpcSessions-warningDetail">
            {' '}
            {status.warning}
          </span>
        </div>
      )}
      <div
        className="jp-HpcPanel-actions"
        role="group"
        aria-label={trans.__(
          'Actions for job %1 on %2',
          session.jobId ?? '—',
          session.cluster
        )}
      >
        {session.phase === 'running' &&
          action(CommandIDs.openSession, trans.__('Open'), true)}
        {action(CommandIDs.showSessionLog, trans.__('Log'))}
        {session.phase === 'ended'
          ? action(CommandIDs.dismissSession, trans.__('Dismiss'))
          : action(
              CommandIDs.cancelSession,
              session.phase === 'ending'
                ? trans.__('Cancelling…')
                : trans.__('Cancel')
            )}
      </div>
    </li>
  );
}

import { TranslationBundle } from '@jupyterlab/translation';

import {
  IAttachableSession,
  ISessionInfo,
  ISessionOrigin,
  SessionOutcome
} from '../../common/api';

export type SessionTone = 'ok' | 'busy' | 'warning' | 'error' | 'off';

/** A session's state in words, as the panel and the Running sidebar show it. */
export interface ISessionStatus {
  tone: SessionTone;
  /** One line: "Running on node1", "Queued (Priority)". */
  label: string;
  /** Times and the like: "5 min elapsed · 55 min left"; may be empty. */
  detail: string;
  /** The scheduler did not answer: the facts above may be old. */
  warning: string | null;
}

/** Phases in which the wall time runs. */
const RUNS = new Set(['starting', 'connecting', 'running', 'ending']);

/**
 * Seconds of wall time left at `now`, counted down from the sidecar's last
 * reading; null when unknown, unlimited, or not running yet (a queued job's
 * time left is its whole limit).
 */
export function secondsLeft(session: ISessionInfo, now: number): number | null {
  const { timeLeftSeconds, observedAt } = session;
  if (timeLeftSeconds === null || !RUNS.has(session.phase)) {
    return null;
  }
  const since = observedAt === null ? 0 : Math.max(0, now - observedAt) / 1000;
  return Math.max(0, Math.round(timeLeftSeconds - since));
}

/** Milliseconds since the job started, or null before it did. */
export function elapsedMs(session: ISessionInfo, now: number): number | null {
  if (!RUNS.has(session.phase) || session.startTime === null) {
    return null;
  }
  return Math.max(0, now - session.startTime);
}

/** A duration for people: "45 s", "12 min", "3 h 05 min", "2 d 4 h". */
export function formatSpan(seconds: number, trans: TranslationBundle): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return trans.__('%1 s', s);
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return trans.__('%1 min', minutes);
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return trans.__(
      '%1 h %2 min',
      hours,
      String(minutes % 60).padStart(2, '0')
    );
  }
  return trans.__('%1 d %2 h', Math.floor(hours / 24), hours % 24);
}

/** A clock time, with the date when it is not today. */
export function formatWhen(at: number, now: number): string {
  const when = new Date(at);
  const sameDay = new Date(now).toDateString() === when.toDateString();
  return sameDay
    ? when.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
    : when.toLocaleString(undefined, {
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit'
      });
}

/** Slurm's reason, unless it says nothing ("None"). */
function reasonOf(session: ISessionInfo): string | null {
  const reason = session.reason?.trim();
  return reason && reason !== 'None' && reason !== '(null)' ? reason : null;
}

/** "Cancelled", "Timed out", … for an outcome. */
export function outcomeLabel(
  outcome: SessionOutcome,
  trans: TranslationBundle
): string {
  switch (outcome) {
    case 'shut-down':
      return trans.__('Shut down');
    case 'completed':
      return trans.__('Completed');
    case 'cancelled':
      return trans.__('Cancelled');
    case 'timeout':
      return trans.__('Wall time reached');
    case 'failed':
      return trans.__('Failed');
    case 'node-failure':
      return trans.__('Node failure');
    case 'out-of-memory':
      return trans.__('Out of memory');
    case 'preempted':
      return trans.__('Preempted');
    case 'start-timeout':
      return trans.__('JupyterLab did not start');
    case 'unknown':
      return trans.__('Ended');
  }
}

/** Outcomes that are the user's doing or the job's normal end. */
const CALM_OUTCOMES: readonly SessionOutcome[] = [
  'shut-down',
  'completed',
  'cancelled'
];

export function isFailure(outcome: SessionOutcome): boolean {
  return !CALM_OUTCOMES.includes(outcome);
}

/** The session's state in words at `now` (the countdown moves with it). */
export function sessionStatus(
  session: ISessionInfo,
  now: number,
  trans: TranslationBundle
): ISessionStatus {
  const moved = session.portMoved;
  const warning = session.schedulerUnreachable
    ? trans.__(
        'The scheduler is not answering; this is what it said last. It is asked again at the next poll.'
      )
    : moved && session.phase === 'running'
      ? trans.__(
          'Another program took port %1 while the connection was down, so JupyterLab is on port %2 now: open it again from here; tabs still on port %1 reach that other program.',
          moved.from,
          moved.to
        )
      : null;
  const times = (): string => {
    const parts: string[] = [];
    const elapsed = elapsedMs(session, now);
    if (elapsed !== null) {
      parts.push(trans.__('%1 elapsed', formatSpan(elapsed / 1000, trans)));
    }
    const left = secondsLeft(session, now);
    if (left !== null) {
      parts.push(trans.__('%1 left', formatSpan(left, trans)));
    } else if (session.timeLeftSeconds === null && elapsed !== null) {
      parts.push(trans.__('no time limit'));
    }
    return parts.join(' · ');
  };
  const node = session.node ?? trans.__('its node');
  const status = (
    tone: SessionTone,
    label: string,
    detail = ''
  ): ISessionStatus => ({
    tone: warning && tone !== 'off' ? 'warning' : tone,
    label,
    detail,
    warning
  });

  switch (session.phase) {
    case 'submitting':
      return status('busy', trans.__('Submitting the job…'));
    case 'queued': {
      const reason = reasonOf(session);
      const label = reason
        ? trans.__('Queued (%1)', reason)
        : trans.__('Queued');
      const start = session.startTime;
      const detail =
        start !== null && start > now
          ? trans.__('starts about %1', formatWhen(start, now))
          : trans.__('start not estimated yet');
      return status('busy', label, detail);
    }
    case 'starting':
      return status(
        'busy',
        trans.__('Starting JupyterLab on %1', node),
        times()
      );
    case 'connecting':
      return status('busy', trans.__('Connecting to %1', node), times());
    case 'running':
      return status('ok', trans.__('Running on %1', node), times());
    case 'ending':
      return status('busy', trans.__('Ending…'), times());
    case 'ended': {
      const end = session.end;
      const outcome = end?.outcome ?? 'unknown';
      return {
        tone: isFailure(outcome) ? 'error' : 'off',
        label: trans.__('Ended: %1', outcomeLabel(outcome, trans)),
        detail: end?.message ?? '',
        warning: null
      };
    }
  }
}

/** "demo · job 1234", the session's name in lists and titles. */
export function sessionTitle(
  session: ISessionInfo,
  trans: TranslationBundle
): string {
  return session.jobId
    ? trans.__('%1 · job %2', session.cluster, session.jobId)
    : trans.__('%1 · not submitted yet', session.cluster);
}

/** A session started elsewhere, as the attach dialog lists it. */
export function attachableStatus(
  session: IAttachableSession,
  now: number,
  trans: TranslationBundle
): { label: string; detail: string } {
  const reason = session.reason?.trim();
  const said = reason && reason !== 'None' && reason !== '(null)';
  let label: string;
  switch (session.jobState) {
    case 'RUNNING':
      label = session.node
        ? trans.__('Running on %1', session.node)
        : trans.__('Running');
      break;
    case 'PENDING':
      label = said ? trans.__('Queued (%1)', reason) : trans.__('Queued');
      break;
    default:
      label = session.jobState;
  }
  const parts: string[] = [];
  if (session.jobState === 'RUNNING' && session.timeLeftSeconds !== null) {
    parts.push(trans.__('%1 left', formatSpan(session.timeLeftSeconds, trans)));
  }
  parts.push(startedOn(session.origin, trans));
  if (session.createdAt !== null) {
    parts.push(trans.__('submitted %1', formatWhen(session.createdAt, now)));
  }
  return { label, detail: parts.join(' · ') };
}

/** "started on laptop-7", or that the cluster has no record of where. */
export function startedOn(
  origin: ISessionOrigin | null,
  trans: TranslationBundle
): string {
  return origin?.host
    ? trans.__('started on %1', origin.host)
    : trans.__('started on an unrecorded computer');
}

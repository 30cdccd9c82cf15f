import { TranslationBundle } from '@jupyterlab/translation';

import {
  IAllocationInfo,
  IClusterKernelInfo,
  IJobResources,
  IKernelProfile,
  IKernelStartInfo
} from '../../common/api';
import { formatSpan, formatWhen, SessionTone } from '../sessions/messages';

/**
 * "gpu · 1:00:00 · 4 CPUs · 16G · 1 GPU (a100) · acct/qos": the resources a
 * profile asks for; empty fields are the cluster's defaults and left out.
 */
export function resourcesSummary(
  resources: IJobResources,
  trans: TranslationBundle
): string {
  const parts: string[] = [
    resources.partition || trans.__('default partition')
  ];
  if (resources.wallTime) {
    parts.push(resources.wallTime);
  }
  parts.push(trans._n('%1 CPU', '%1 CPUs', resources.cpus));
  if (resources.memory) {
    parts.push(resources.memory);
  }
  if (resources.gpus.count > 0) {
    const gpus = trans._n('%1 GPU', '%1 GPUs', resources.gpus.count);
    parts.push(resources.gpus.type ? `${gpus} (${resources.gpus.type})` : gpus);
  }
  const accounting = [resources.account, resources.qos].filter(Boolean);
  if (accounting.length > 0) {
    parts.push(accounting.join('/'));
  }
  if (resources.constraint) {
    parts.push(resources.constraint);
  }
  return parts.join(' · ');
}

/**
 * "hpc:~/project": a directory on the cluster, written so it is not
 * mistaken for a path of this computer; the home directory when empty.
 */
export function clusterPath(cluster: string, directory: string): string {
  return `${cluster}:${directory || '~'}`;
}

/** The profile's kernel name in the picker, or its id when unknown. */
export function profileName(
  profiles: readonly IKernelProfile[],
  id: string | null
): string | null {
  if (id === null) {
    return null;
  }
  return profiles.find(p => p.id === id)?.displayName ?? id;
}

/**
 * Seconds of wall time left at `now`, counted down from the sidecar's last
 * reading; null when unknown or not running.
 */
export function allocationSecondsLeft(
  allocation: IAllocationInfo,
  now: number
): number | null {
  const { timeLeftSeconds, observedAt } = allocation;
  if (
    timeLeftSeconds === null ||
    (allocation.phase !== 'running' && allocation.phase !== 'ending')
  ) {
    return null;
  }
  const since = observedAt === null ? 0 : Math.max(0, now - observedAt) / 1000;
  return Math.max(0, Math.round(timeLeftSeconds - since));
}

/** Seconds until an allocation without kernels is released; null if not. */
export function releaseSecondsLeft(
  allocation: IAllocationInfo,
  now: number
): number | null {
  if (allocation.releaseAt === null || allocation.phase === 'ended') {
    return null;
  }
  return Math.max(0, Math.round((allocation.releaseAt - now) / 1000));
}

export interface IAllocationStatus {
  tone: SessionTone;
  /** "Running on c1", "Queued (Priority)". */
  label: string;
  /** "42 min left", "starts about 14:05"; may be empty. */
  detail: string;
  /** "Released in 4 min" during the grace period; else null. */
  release: string | null;
  /** The scheduler did not answer: the facts above may be old. */
  warning: string | null;
}

/** An allocation's state in words at `now` (the countdowns move with it). */
export function allocationStatus(
  allocation: IAllocationInfo,
  now: number,
  trans: TranslationBundle
): IAllocationStatus {
  const warning = allocation.schedulerUnreachable
    ? trans.__(
        'The scheduler is not answering; this is what it said last. It is asked again at the next poll.'
      )
    : null;
  const releaseIn = releaseSecondsLeft(allocation, now);
  const release =
    releaseIn === null
      ? null
      : releaseIn < 60
        ? trans.__('No kernel left: released in less than a minute')
        : trans.__(
            'No kernel left: released in %1',
            formatSpan(releaseIn, trans)
          );
  const status = (
    tone: SessionTone,
    label: string,
    detail = ''
  ): IAllocationStatus => ({
    tone: warning && tone !== 'off' ? 'warning' : tone,
    label,
    detail,
    release,
    warning
  });
  const left = allocationSecondsLeft(allocation, now);
  const timeLeft =
    left !== null
      ? trans.__('%1 left', formatSpan(left, trans))
      : allocation.phase === 'running' && allocation.timeLeftSeconds === null
        ? trans.__('no time limit')
        : '';
  switch (allocation.phase) {
    case 'submitting':
      return status('busy', trans.__('Submitting the job…'));
    case 'queued': {
      const label = allocation.reason
        ? trans.__('Queued (%1)', allocation.reason)
        : trans.__('Queued');
      const start = allocation.startTime;
      return status(
        'busy',
        label,
        start !== null && start > now
          ? trans.__('starts about %1', formatWhen(start, now))
          : trans.__('start not estimated yet')
      );
    }
    case 'running':
      return status(
        'ok',
        trans.__('Running on %1', allocation.node ?? trans.__('its node')),
        timeLeft
      );
    case 'ending':
      return status('busy', trans.__('Ending…'), timeLeft);
    case 'ended':
      return {
        tone: 'off',
        label: trans.__('Ended'),
        detail: allocation.end?.message ?? '',
        release: null,
        warning: null
      };
  }
}

/** A kernel's state in one word. */
export function kernelStateWord(
  state: IClusterKernelInfo['state'],
  trans: TranslationBundle
): string {
  switch (state) {
    case 'waiting':
      return trans.__('waiting');
    case 'starting':
      return trans.__('starting');
    case 'running':
      return trans.__('running');
    case 'restarting':
      return trans.__('restarting');
    case 'ended':
      return trans.__('ended');
  }
}

/**
 * What a notebook shows while its cluster kernel waits: "Queued on hpc:
 * Priority, estimated start 14:05", then "Starting on c1…".
 */
export function startStatusText(
  start: IKernelStartInfo,
  cluster: string,
  node: string | null,
  now: number,
  trans: TranslationBundle
): string {
  switch (start.state) {
    case 'waiting':
      return start.restart
        ? trans.__('Restarting the kernel on %1…', cluster)
        : trans.__('Asking %1 for a job…', cluster);
    case 'queued': {
      const reason = start.reason ?? trans.__('waiting for resources');
      return start.estimatedStart !== null && start.estimatedStart > now
        ? trans.__(
            'Queued on %1: %2, estimated start %3',
            cluster,
            reason,
            formatWhen(start.estimatedStart, now)
          )
        : trans.__('Queued on %1: %2', cluster, reason);
    }
    case 'starting':
      return node
        ? trans.__('Starting on %1…', node)
        : trans.__('Starting on %1…', cluster);
    case 'started':
      return trans.__('Started on %1', node ?? cluster);
    case 'failed':
      return start.message ?? trans.__('The kernel could not start.');
    case 'cancelled':
      return trans.__('Kernel start cancelled.');
  }
}

/** "2 kernels", "no kernel": how many kernels run in an allocation. */
export function formatKernelCount(
  allocation: IAllocationInfo,
  trans: TranslationBundle
): string {
  const n = allocation.kernels.filter(k => k.state !== 'ended').length;
  return n === 0
    ? trans.__('no kernel')
    : trans._n('%1 kernel', '%1 kernels', n);
}

import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { IAllocationInfo, IKernelProfile } from '../../common/api';
import { CommandIDs } from '../tokens';
import {
  allocationSecondsLeft,
  allocationStatus,
  kernelStateWord,
  profileName,
  releaseSecondsLeft,
  resourcesSummary
} from './messages';

export interface IAllocationListProps {
  allocations: readonly IAllocationInfo[];
  profiles: readonly IKernelProfile[];
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
 * The jobs held for cluster kernels, in the side panel: one row each with
 * its state, time left, the kernels in it, the release countdown once it
 * has none, and End allocation.
 */
export function AllocationList(
  props: IAllocationListProps
): React.ReactElement {
  const { allocations, profiles, commands, trans } = props;
  const now = props.now ?? Date.now;
  useTick(
    allocations.some(a => a.phase === 'running' || a.releaseAt !== null),
    1000
  );
  if (allocations.length === 0) {
    return (
      <div className="jp-HpcPanel-empty jp-HpcAllocations-empty">
        <p>
          {profiles.length === 0
            ? trans.__(
                'No cluster kernels yet. Open a cluster\'s environments and choose "Add as cluster kernel…": it then appears in the kernel picker.'
              )
            : trans.__(
                'No job holds cluster kernels now. Choosing a cluster kernel in a notebook starts one.'
              )}
        </p>
      </div>
    );
  }
  const at = now();
  return (
    <ul
      className="jp-HpcAllocations-list"
      aria-label={trans.__('Cluster kernel allocations')}
    >
      {allocations.map(a => (
        <AllocationRow
          key={a.id}
          allocation={a}
          profiles={profiles}
          now={at}
          commands={commands}
          trans={trans}
        />
      ))}
    </ul>
  );
}

function AllocationRow(props: {
  allocation: IAllocationInfo;
  profiles: readonly IKernelProfile[];
  now: number;
  commands: CommandRegistry;
  trans: TranslationBundle;
}): React.ReactElement {
  const { allocation, profiles, now, commands, trans } = props;
  const nameId = React.useId();
  const status = allocationStatus(allocation, now, trans);
  const left = allocationSecondsLeft(allocation, now);
  const release = releaseSecondsLeft(allocation, now);
  const args = { id: allocation.id };
  const kernels = allocation.kernels.filter(k => k.state !== 'ended');
  const forWhat = allocation.sessionId
    ? trans.__('JupyterLab session job')
    : (profileName(profiles, allocation.profile) ?? '');
  return (
    <li
      className="jp-HpcAllocation"
      aria-labelledby={nameId}
      data-allocation-id={allocation.id}
      data-job-id={allocation.jobId ?? undefined}
      data-phase={allocation.phase}
      data-seconds-left={left ?? undefined}
      data-release-seconds={release ?? undefined}
    >
      <div className="jp-HpcSessions-head">
        <span id={nameId} className="jp-HpcSessions-cluster">
          {allocation.cluster}
        </span>
        <span className="jp-HpcSessions-job">
          {allocation.jobId
            ? trans.__('job %1', allocation.jobId)
            : trans.__('not submitted yet')}
        </span>
      </div>
      <div className={`jp-HpcPanel-state jp-mod-${status.tone}`} role="status">
        <span className="jp-HpcPanel-dot" aria-hidden="true" />
        <span className="jp-HpcPanel-stateLabel">{status.label}</span>
      </div>
      {status.detail && (
        <div className="jp-HpcSessions-detail jp-HpcAllocation-detail">
          {status.detail}
        </div>
      )}
      <div
        className="jp-HpcSessions-detail jp-HpcAllocation-resources"
        title={forWhat}
      >
        {forWhat
          ? `${forWhat} · ${resourcesSummary(allocation.resources, trans)}`
          : resourcesSummary(allocation.resources, trans)}
      </div>
      {status.warning && (
        <div className="jp-HpcSessions-warning" role="alert">
          {trans.__('Scheduler not answering')}
          <span className="jp-HpcSessions-warningDetail">
            {' '}
            {status.warning}
          </span>
        </div>
      )}
      {kernels.length > 0 && (
        <ul
          className="jp-HpcAllocation-kernels"
          aria-label={trans.__(
            'Kernels in job %1',
            allocation.jobId ?? allocation.id
          )}
        >
          {kernels.map(k => (
            <li
              key={k.kernelId}
              className="jp-HpcAllocation-kernel"
              data-kernel-id={k.kernelId}
              data-state={k.state}
            >
              <span className="jp-HpcAllocation-notebook" title={k.kernelId}>
                {k.notebookPath ??
                  trans.__('kernel %1', k.kernelId.slice(0, 8))}
              </span>
              <span className="jp-HpcAllocation-kernelState">
                {kernelStateWord(k.state, trans)}
              </span>
            </li>
          ))}
        </ul>
      )}
      {status.release && (
        <div className="jp-HpcSessions-detail jp-HpcAllocation-release">
          {status.release}
        </div>
      )}
      {allocation.phase !== 'ended' && (
        <div
          className="jp-HpcPanel-actions"
          role="group"
          aria-label={trans.__(
            'Actions for job %1 on %2',
            allocation.jobId ?? '—',
            allocation.cluster
          )}
        >
          <Button
            small={true}
            className="jp-HpcPanel-action jp-HpcAllocation-end"
            disabled={!commands.isEnabled(CommandIDs.endAllocation, args)}
            title={commands.caption(CommandIDs.endAllocation, args)}
            onClick={() =>
              void commands.execute(CommandIDs.endAllocation, args)
            }
          >
            {commands.label(CommandIDs.endAllocation, args)}
          </Button>
        </div>
      )}
    </li>
  );
}

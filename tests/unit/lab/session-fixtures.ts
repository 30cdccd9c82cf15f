import type { ISessionInfo } from '../../../src/common/api';

/** A launch request as the form sends it. */
export const REQUEST: ISessionInfo['request'] = {
  partition: 'debug',
  account: '',
  qos: '',
  wallTime: '1:00:00',
  cpus: 1,
  memory: '',
  gpus: { type: '', count: 0 },
  constraint: '',
  environment: '/home/hpcdemo/envs/jupyterlab',
  workingDirectory: '',
  startTimeoutSeconds: 300
};

/** A session as the sidecar describes it; `more` sets what the test needs. */
export function sessionInfo(more: Partial<ISessionInfo> = {}): ISessionInfo {
  return {
    id: 's1',
    cluster: 'demo',
    phase: 'queued',
    request: REQUEST,
    createdAt: 1_000,
    jobId: '42',
    jobState: 'PENDING',
    reason: 'Priority',
    startTime: null,
    node: null,
    timeLeftSeconds: 3600,
    observedAt: 2_000,
    localPort: null,
    schedulerUnreachable: false,
    end: null,
    ...more
  };
}

/** The same session running on `node` with a forward on `port`. */
export function running(more: Partial<ISessionInfo> = {}): ISessionInfo {
  return sessionInfo({
    phase: 'running',
    jobState: 'RUNNING',
    reason: 'None',
    startTime: 1_500,
    node: 'node1',
    localPort: 40001,
    ...more
  });
}

/** The same session ended with `outcome`. */
export function ended(
  outcome: NonNullable<ISessionInfo['end']>['outcome'] = 'cancelled',
  more: Partial<ISessionInfo> = {}
): ISessionInfo {
  return sessionInfo({
    phase: 'ended',
    jobState: null,
    reason: null,
    localPort: null,
    end: { outcome, message: `The job ended: ${outcome}.`, at: 9_000 },
    ...more
  });
}

import { Signal } from '@lumino/signaling';

import type {
  IAllocationInfo,
  IClusterKernelInfo,
  IKernelProfile,
  IKernelStartInfo
} from '../../../src/common/api';
import { IKernelsModel, isWaiting } from '../../../src/lab/kernels/model';

export const ENV = '/home/hpcdemo/.local/miniforge/envs/torch';

/** A profile as the sidecar lists it; `more` sets what the test needs. */
export function profileInfo(
  more: Partial<IKernelProfile> = {}
): IKernelProfile {
  const id = more.id ?? 'abcd1234';
  return {
    id,
    cluster: 'demo',
    environment: ENV,
    displayName: 'Python [conda env:torch] on demo',
    resources: {
      partition: 'debug',
      account: '',
      qos: '',
      wallTime: '1:00:00',
      cpus: 2,
      memory: '4G',
      gpus: { type: '', count: 0 },
      constraint: ''
    },
    workingDirectory: '~/project',
    language: 'python',
    interruptMode: 'signal',
    specName: `hpc-${id}`,
    createdAt: 1_000,
    updatedAt: 1_000,
    ...more
  };
}

export function kernelInfo(
  more: Partial<IClusterKernelInfo> = {}
): IClusterKernelInfo {
  return {
    kernelId: 'k-1111-2222',
    profile: 'abcd1234',
    notebookPath: 'work/analysis.ipynb',
    state: 'running',
    stepId: '42.0',
    startedAt: 2_000,
    ...more
  };
}

/** An allocation running on node1 with one kernel. */
export function allocationInfo(
  more: Partial<IAllocationInfo> = {}
): IAllocationInfo {
  return {
    id: 'a1',
    cluster: 'demo',
    profile: 'abcd1234',
    sessionId: null,
    resources: profileInfo().resources,
    phase: 'running',
    jobId: '42',
    jobState: 'RUNNING',
    reason: null,
    startTime: 1_500,
    node: 'node1',
    timeLeftSeconds: 3600,
    observedAt: 1_000_000,
    kernels: [kernelInfo()],
    releaseAt: null,
    schedulerUnreachable: false,
    createdAt: 1_000,
    end: null,
    ...more
  };
}

/** A start the Jupyter server waits for, queued by default. */
export function startInfo(
  more: Partial<IKernelStartInfo> = {}
): IKernelStartInfo {
  return {
    kernelId: 'k-new',
    profile: 'abcd1234',
    specName: 'hpc-abcd1234',
    notebookPath: 'work/analysis.ipynb',
    state: 'queued',
    allocationId: 'a1',
    jobId: '42',
    reason: 'Priority',
    estimatedStart: null,
    message: null,
    restart: false,
    at: 5_000,
    ...more
  };
}

/** The kernels model as the views use it, filled and changed by the test. */
export class FakeKernels implements IKernelsModel {
  profiles: IKernelProfile[] = [];
  allocations: IAllocationInfo[] = [];
  starts: IKernelStartInfo[] = [];
  available = true;
  readonly changed: Signal<IKernelsModel, void> = new Signal(this);
  readonly startChanged: Signal<IKernelsModel, IKernelStartInfo> = new Signal(
    this
  );
  readonly ended: string[] = [];
  readonly cancelled: string[] = [];
  readonly removed: string[] = [];
  isDisposed = false;

  profile(id: string): IKernelProfile | null {
    return this.profiles.find(p => p.id === id) ?? null;
  }
  profilesFor(cluster: string, environment?: string): IKernelProfile[] {
    return this.profiles.filter(
      p =>
        p.cluster === cluster &&
        (environment === undefined || p.environment === environment)
    );
  }
  allocation(id: string): IAllocationInfo | null {
    return this.allocations.find(a => a.id === id) ?? null;
  }
  async refresh(): Promise<void> {
    return;
  }
  async addProfile(): Promise<IKernelProfile> {
    throw new Error('not in this test');
  }
  async updateProfile(): Promise<IKernelProfile> {
    throw new Error('not in this test');
  }
  async removeProfile(id: string): Promise<void> {
    this.removed.push(id);
  }
  async endAllocation(id: string): Promise<IAllocationInfo> {
    this.ended.push(id);
    return this.allocation(id)!;
  }
  async cancelStart(kernelId: string): Promise<void> {
    this.cancelled.push(kernelId);
  }
  /** Set a start as an event would, and tell the listeners. */
  pushStart(start: IKernelStartInfo): void {
    this.starts = [
      ...this.starts.filter(s => s.kernelId !== start.kernelId),
      ...(isWaiting(start) ? [start] : [])
    ];
    this.startChanged.emit(start);
    this.changed.emit();
  }
  dispose(): void {
    this.isDisposed = true;
  }
}

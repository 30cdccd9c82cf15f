/**
 * One JobPoller per cluster for every service of the sidecar that follows
 * jobs there (JupyterLab sessions, kernel allocations): one squeue per
 * cluster per poll for all of their jobs. Each service gets a tracker with
 * the JobPoller's own calls; a job two services follow (a session's job
 * that kernels share) is asked about once, at the pace of the more urgent
 * phase, and each service hears only of the jobs it tracks.
 */
import {
  JobPoller,
  type IPollPolicy,
  type PollOutcome,
  type TrackedPhase
} from './job-poller';
import type { ICommandText } from './output';

/** What a service does with its cluster's poller (JobPoller has it all). */
export interface IJobTracker {
  track(jobId: string, phase: TrackedPhase): void;
  untrack(jobId: string): void;
  pollNow(): Promise<void>;
  setVisible(visible: boolean): void;
  dispose(): void;
}

export interface ITrackerOptions {
  onPoll(outcome: PollOutcome): void;
  /** The cluster's UTC offset when this service knows it, else null. */
  utcOffsetMinutes(): number | null;
}

const URGENCY: Record<TrackedPhase, number> = {
  starting: 0,
  queued: 1,
  running: 2
};

interface IClient {
  options: ITrackerOptions;
  tracked: Map<string, TrackedPhase>;
}

interface IShared {
  poller: JobPoller;
  clients: Set<IClient>;
}

export class SharedJobPollers {
  constructor(
    private readonly _o: {
      run(cluster: string, argv: string[]): Promise<ICommandText>;
      policy?: IPollPolicy;
    }
  ) {}

  tracker(cluster: string, options: ITrackerOptions): IJobTracker {
    const shared = this._shared(cluster);
    const client: IClient = { options, tracked: new Map() };
    shared.clients.add(client);
    const sync = (jobId: string) => this._sync(shared, jobId);
    return {
      track: (jobId, phase) => {
        client.tracked.set(jobId, phase);
        sync(jobId);
      },
      untrack: jobId => {
        if (client.tracked.delete(jobId)) {
          sync(jobId);
        }
      },
      pollNow: () => shared.poller.pollNow(),
      setVisible: visible => shared.poller.setVisible(visible),
      dispose: () => {
        shared.clients.delete(client);
        const jobs = [...client.tracked.keys()];
        client.tracked.clear();
        jobs.forEach(sync);
      }
    };
  }

  dispose(): void {
    for (const s of this._clusters.values()) {
      s.poller.dispose();
    }
    this._clusters.clear();
  }

  private _sync(shared: IShared, jobId: string): void {
    let phase: TrackedPhase | null = null;
    for (const c of shared.clients) {
      const p = c.tracked.get(jobId);
      if (p && (phase === null || URGENCY[p] < URGENCY[phase])) {
        phase = p;
      }
    }
    if (phase === null) {
      shared.poller.untrack(jobId);
    } else {
      shared.poller.track(jobId, phase);
    }
  }

  private _shared(cluster: string): IShared {
    let s = this._clusters.get(cluster);
    if (!s) {
      const clients = new Set<IClient>();
      s = {
        clients,
        poller: new JobPoller({
          run: argv => this._o.run(cluster, argv),
          // A non-zero offset was learned from the cluster; 0 may be a
          // default, so a service that learned another one wins.
          utcOffsetMinutes: () => {
            let known = 0;
            for (const c of clients) {
              const m = c.options.utcOffsetMinutes();
              if (m !== null && m !== 0) {
                known = m;
                break;
              }
            }
            return known;
          },
          onPoll: outcome => {
            for (const c of [...clients]) {
              const asked = outcome.asked.filter(id => c.tracked.has(id));
              if (asked.length > 0) {
                c.options.onPoll({ ...outcome, asked });
              }
            }
          },
          policy: this._o.policy
        })
      };
      this._clusters.set(cluster, s);
    }
    return s;
  }

  private readonly _clusters = new Map<string, IShared>();
}

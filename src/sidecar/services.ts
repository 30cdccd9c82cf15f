/**
 * Everything behind the cluster, environment and task routes, made on the
 * first request that needs it: main.ts loads this module with `import()`,
 * so ssh2, the conda and task modules stay off the sidecar's cold start
 * (JupyterLab's first page load waits for the health answer).
 */
import {
  LOCAL_TARGET,
  type IStateProblem,
  type SidecarEvent
} from '../common/api';
import { clusterRoutes, type IClusterSync } from './api/cluster-routes';
import { envRoutes } from './api/env-routes';
import { kernelProfileRoutes } from './api/kernel-routes';
import { kernelStartRoutes } from './api/kernel-start-routes';
import type { IRoute } from './api/router';
import { describe } from './api/server';
import { taskRoutes } from './api/task-routes';
import { ClusterManager } from './clusters/manager';
import {
  emptySavedClusters,
  savedClustersFile,
  type ISavedClusters
} from './clusters/saved-clusters';
import { KernelLeases, type IKernelLeasesOptions } from './kernels/lease';
import { PromptBroker } from './clusters/prompts';
import { EnvironmentService, localEnvTarget } from './conda/service';
import { findEnv, kernelEnvFacts } from './kernels/env-facts';
import { KernelProfileStore } from './kernels/profiles';
import type { ILogger } from './log';
import { TaskManager } from './tasks/manager';
import { LocalTransport } from './transport/local';
import { kernelAllocationRoutes } from './api/allocation-routes';
import { sessionRoutes } from './api/session-routes';
import {
  emptyAllocationState,
  parseAllocationState
} from './kernels/allocation-record';
import { AllocationService } from './kernels/allocations';
import { emptyState, parseSessionState } from './sessions/record';
import { asText } from './sessions/offer';
import { SessionService } from './sessions/service';
import { SharedJobPollers } from './slurm/shared-pollers';
import { StateFile, type IStateFileProblem } from './state/json-file';
import { displayPath } from './paths';
import { randomUUID } from 'crypto';
import { hostname, homedir } from 'os';
import { dirname, join } from 'path';

export interface IServices {
  routes: IRoute[];
  /** The kernel lease sockets' handler (Routes.kernelLease). */
  leases?: KernelLeases;
  /** Cancel prompts, stop running installs, close every connection. */
  close(): Promise<void>;
}

export function createServices(
  broadcast: (event: SidecarEvent) => void,
  log: ILogger
): IServices {
  const prompts = new PromptBroker(broadcast);
  // The state files' problems, told to every tab and listed with the sessions.
  const stateProblems = new Map<string, IStateProblem>();
  const stateFileProblem =
    (file: IStateProblem['file']) =>
    (kind: IStateFileProblem['kind'], p: IStateFileProblem | null): void => {
      const code = kind === 'damaged' ? 'state-damaged' : 'state-unwritable';
      const problem: IStateProblem | null = p
        ? { code, file, message: p.message }
        : null;
      if (problem) {
        stateProblems.set(`${file} ${code}`, problem);
        log.error(`${file}: ${problem.message}`);
      } else {
        stateProblems.delete(`${file} ${code}`);
        log.info(`${file}: the state file is written again.`);
      }
      broadcast({ type: 'state-problem', file, code, problem });
    };
  const home = process.env.HOME || homedir();
  // Sessions follow their cluster's connection (forwards after a reconnect).
  let sessions: SessionService | null = null;
  const manager = new ClusterManager({
    broadcast: event => {
      broadcast(event);
      if (event.type === 'cluster-state') {
        sessions?.connectionChanged(event.cluster.name, event.cluster.state);
      }
    },
    prompts
  });
  const tasks = new TaskManager({ broadcast });
  // Installs into this computer's environments (LOCAL_TARGET).
  const local = new LocalTransport();
  const envs = new EnvironmentService({
    broadcast,
    clusters: manager,
    local: localEnvTarget(local, process.env, local.home),
    log
  });
  const transport = async (name: string) =>
    name === LOCAL_TARGET ? local : manager.transport(name);
  // One squeue per cluster per poll for the sessions' and kernels' jobs.
  const pollers = new SharedJobPollers({
    run: async (cluster, argv) => {
      const at = Date.now();
      try {
        const out = asText(
          await (await transport(cluster)).run({ argv, timeoutSeconds: 30 })
        );
        log.debug(
          `poll ${cluster}: ${argv[0]} exited ${out.exitCode} in ${Date.now() - at} ms`
        );
        return out;
      } catch (err) {
        log.debug(
          `poll ${cluster}: ${argv[0]} failed in ${Date.now() - at} ms: ${(err as Error).message}`
        );
        throw err;
      }
    }
  });
  sessions = new SessionService({
    pollers,
    host: {
      transport: async name => manager.transport(name),
      openForward: (name, request) => manager.openForward(name, request),
      closeForward: async id => {
        await manager.closeForward(id);
      },
      forwardOpen: id => manager.forwards().some(f => f.id === id)
    },
    state: new StateFile({
      path: sessionStatePath(process.env),
      parse: parseSessionState,
      empty: emptyState,
      label: 'sessions',
      shownPath: displayPath(sessionStatePath(process.env), home),
      lostHint:
        'Sessions still running on a cluster are listed there to attach again ("Sessions on the cluster").',
      onProblem: stateFileProblem('sessions')
    }),
    log,
    onChange: (session, removed) =>
      broadcast({ type: 'session', session, removed }),
    origin: hostname()
  });
  // The clusters JupyterLab gave the last sidecar come first, so that what
  // is restored can reconnect with no page open (a page's PUT replaces them).
  const savedClusters = savedClustersFile(
    clusterStatePath(process.env),
    displayPath(clusterStatePath(process.env), home)
  );
  let synced = false;
  let savedState: ISavedClusters = emptySavedClusters();
  const clustersLoaded = savedClusters
    .load()
    .then(async ({ state, report }) => {
      if (report.problem) {
        log.warn(
          `clusters: ${savedClusters.problem?.message ?? report.problem}`
        );
      }
      if (synced) {
        return;
      }
      savedState = state;
      if (state.clusters.length === 0) {
        return;
      }
      await manager.setClusters(state.clusters);
      if (state.allocationGraceMinutes !== null) {
        allocations.setGraceSeconds(state.allocationGraceMinutes * 60);
      }
      log.info(
        `clusters: ${state.clusters.length} from the last list JupyterLab gave, until a page sends its settings`
      );
    })
    .catch(err => log.error(`clusters could not be read: ${describe(err)}`));
  const onClusterSync = (sync: IClusterSync): void => {
    synced = true;
    if (sync.allocationGraceMinutes !== null) {
      allocations.setGraceSeconds(sync.allocationGraceMinutes * 60);
    }
    const last = savedState;
    savedState = {
      version: 1,
      clusters: sync.clusters,
      allocationGraceMinutes:
        sync.allocationGraceMinutes ?? last.allocationGraceMinutes
    };
    if (JSON.stringify(savedState) !== JSON.stringify(last)) {
      savedClusters
        .save(savedState)
        .catch(err =>
          log.warn(`clusters: the list could not be kept: ${describe(err)}`)
        );
    }
  };
  void clustersLoaded.then(() =>
    sessions!
      .restore()
      .catch(err =>
        log.error(`sessions could not be restored: ${describe(err)}`)
      )
  );
  const allocations = new AllocationService({
    host: {
      transport,
      sessions: () => sessions?.list() ?? []
    },
    pollers,
    state: new StateFile({
      path: allocationStatePath(process.env),
      parse: parseAllocationState,
      empty: emptyAllocationState,
      label: 'kernel allocations',
      shownPath: displayPath(allocationStatePath(process.env), home),
      lostHint:
        'Jobs held for cluster kernels that it listed are no longer followed: cancel them with scancel if they are still queued or running.',
      onProblem: stateFileProblem('allocations')
    }),
    log,
    onChange: (allocation, removed) =>
      broadcast({ type: 'kernel-allocation', allocation, removed }),
    origin: hostname()
  });
  void clustersLoaded.then(() =>
    allocations
      .restore()
      .catch(err =>
        log.error(`allocations could not be restored: ${describe(err)}`)
      )
  );
  // Kernel profiles are kernelspecs in the Jupyter server's data dir.
  const dataDir = process.env.JUPYTERLAB_HPC_JUPYTER_DATA_DIR;
  const profiles = new KernelProfileStore({
    kernelsDir: dataDir ? join(dataDir, 'kernels') : null,
    localPython: process.env.JUPYTERLAB_HPC_PYTHON,
    log
  });
  const kernelLeases = createKernelLeases({
    profiles,
    allocations,
    transport,
    broadcast,
    log
  });
  const routes = [
    ...kernelLeases.routes,
    ...clusterRoutes(manager, prompts, onClusterSync),
    ...sessionRoutes(sessions, () => [...stateProblems.values()]),
    ...kernelAllocationRoutes(allocations),
    ...taskRoutes({
      tasks,
      transport: target =>
        target === LOCAL_TARGET ? local : manager.transport(target),
      label: target => (target === LOCAL_TARGET ? 'this computer' : target),
      // A rescan, which tells the tabs (envs-changed) when it is done.
      onEnvsChanged: target => {
        envs
          .refresh(target)
          .catch(err =>
            log.warn(`rescanning environments failed: ${describe(err)}`)
          );
      }
    }),
    ...envRoutes(envs),
    ...kernelProfileRoutes({
      profiles,
      // The cached scan, or a new one when it does not know the env yet.
      facts: async (cluster, prefix) => {
        let list = await envs.list(cluster);
        let env = findEnv(list, prefix);
        if (!env && list.cached) {
          list = await envs.list(cluster, true);
          env = findEnv(list, prefix);
        }
        return kernelEnvFacts(list, env, prefix);
      },
      broadcast,
      isCluster: name => manager.list().some(c => c.name === name)
    })
  ];
  return {
    routes,
    leases: kernelLeases.leases,
    close: async () => {
      // The Jupyter server is stopping or gone, and its kernels with it:
      // their steps end and the jobs held for them are cancelled, at once
      // and while the connections are up (the process exits within 3 s).
      await Promise.all([
        kernelLeases.leases.close(),
        allocations.releaseAll()
      ]);
      sessions.dispose();
      await allocations.close();
      pollers.dispose();
      prompts.cancelAll();
      // Running installs are stopped first, while their connections are up.
      await tasks.close(2000);
      await Promise.all([manager.close(), local.close()]);
    }
  };
}

/**
 * The kernel leases of this sidecar process and their routes, over the
 * kernel profile store and the allocation service. A new sidecar id per
 * process: the provisioner learns from it that its kernels are gone.
 */
export function createKernelLeases(
  options: Omit<IKernelLeasesOptions, 'sidecarId'>
): { leases: KernelLeases; routes: IRoute[] } {
  const leases = new KernelLeases({ ...options, sidecarId: randomUUID() });
  return { leases, routes: kernelStartRoutes(leases) };
}

/**
 * Where the sessions are kept: beside the kernels in the Jupyter data
 * directory the server uses (proxy.py passes it), owner-only.
 */
export function sessionStatePath(env: NodeJS.ProcessEnv): string {
  const data =
    env.JUPYTERLAB_HPC_JUPYTER_DATA_DIR ||
    join(env.HOME || homedir(), '.local', 'share', 'jupyter');
  return join(data, 'jupyterlab_hpc', 'sessions.json');
}

/** Where the last cluster list is kept: beside the sessions. */
export function clusterStatePath(env: NodeJS.ProcessEnv): string {
  return join(dirname(sessionStatePath(env)), 'clusters.json');
}

/** Where the kernel allocations are kept: beside the sessions. */
export function allocationStatePath(env: NodeJS.ProcessEnv): string {
  return join(dirname(sessionStatePath(env)), 'allocations.json');
}

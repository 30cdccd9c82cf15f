/**
 * A JupyterLab that never starts listening, on the real demo cluster: the
 * session waits the start time-out the request asked for (the form's
 * field), then ends as `start-timeout` with a message that names it, its
 * job cancelled and its log still readable. It is never left "starting".
 * The environment is a conda-layout prefix made for this test whose
 * `jupyter` only sleeps; its `python` is the cluster's real one.
 */
import { execFileSync } from 'child_process';
import { rmSync } from 'fs';

import type {
  ISessionEvent,
  ISessionInfo,
  ISessionLog,
  SidecarEvent
} from '../../src/common/api';
import {
  demoCluster,
  demoLaunchRequest,
  writeDemoSshFiles
} from '../support/demo-cluster';
import { ISidecar, makeHome, startSidecar } from '../support/sidecar';

const demo = demoCluster();
const ENV_DIR = `jlhpc-test-silent-env-${process.pid}`;

function ssh(command: string): string {
  return execFileSync('ssh', ['-o', 'BatchMode=yes', demo.alias, command], {
    encoding: 'utf8'
  });
}

let home: string;
let sidecar: ISidecar;
let jobId: string | null = null;

beforeAll(async () => {
  home = makeHome('jlhpc-start-timeout-');
  writeDemoSshFiles(home);
  const python = demo.envs.find(e => e.jupyterlab)!.prefix + '/bin/python';
  ssh(
    `set -e; mkdir -p ~/${ENV_DIR}/bin ~/${ENV_DIR}/conda-meta; ` +
      `ln -sf ${python} ~/${ENV_DIR}/bin/python; ` +
      `printf '#!/bin/sh\\necho "a jupyter that never listens" >&2\\nexec sleep 600\\n' > ~/${ENV_DIR}/bin/jupyter; ` +
      `chmod +x ~/${ENV_DIR}/bin/jupyter`
  );
  sidecar = await startSidecar({ home });
  const put = await sidecar.api('PUT', '/api/v1/clusters', {
    clusters: [{ name: 'demo', host: 'hpc-demo' }]
  });
  expect(put.status).toBe(200);
});

afterAll(async () => {
  await sidecar?.stop();
  if (jobId) {
    ssh(`scancel ${jobId} 2>/dev/null || true`);
  }
  ssh(`rm -rf ~/${ENV_DIR}`);
  rmSync(home, { recursive: true, force: true });
});

it('ends a session whose JupyterLab never listens at its start time-out, job cancelled, log kept', async () => {
  const homeDir = ssh('printf %s "$HOME"');
  const r = await sidecar.api<ISessionInfo>(
    'POST',
    '/api/v1/clusters/demo/sessions',
    demoLaunchRequest({
      environment: `${homeDir}/${ENV_DIR}`,
      startTimeoutSeconds: 10
    })
  );
  expect(r.status).toBe(201);
  jobId = r.body.jobId;
  const id = r.body.id;
  const isOurs =
    (phase: ISessionInfo['phase']) =>
    (e: SidecarEvent): e is ISessionEvent =>
      e.type === 'session' && e.session.id === id && e.session.phase === phase;

  await sidecar.waitForEvent(isOurs('starting'), 60_000);
  const ended = (await sidecar.waitForEvent(isOurs('ended'), 60_000)).session;
  // Not before the time-out the request asked for, and not stuck after it.
  expect(ended.end!.at - r.body.createdAt).toBeGreaterThanOrEqual(10_000);
  expect(ended.end).toMatchObject({ outcome: 'start-timeout' });
  expect(ended.end!.message).toMatch(/did not listen within 10 s/);
  expect(ended.localPort).toBeNull();

  // The job is gone from the queue; its output is still there to read.
  expect(ssh(`squeue -h -j ${jobId} -o %T 2>/dev/null || true`).trim()).toMatch(
    /^(|CANCELLED|COMPLETING)$/
  );
  const log = await sidecar.api<ISessionLog>(
    'GET',
    `/api/v1/sessions/${id}/log?offset=0`
  );
  expect(log.status).toBe(200);
  expect(log.body.text).toContain('a jupyter that never listens');
});

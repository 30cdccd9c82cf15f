/**
 * A session started from another computer, attached to from the HPC panel:
 * a second real sidecar with its own home and state (the other laptop)
 * launches on the demo cluster; the local JupyterLab finds it under
 * "Sessions started elsewhere…", attaches, shows it running through its own
 * forward with where it was started, and cancels it. The job is cancelled
 * and the other sidecar stopped whatever happens.
 */
import { execFileSync } from 'child_process';
import { rmSync } from 'fs';
import { hostname } from 'os';

import { expect, test } from '@playwright/test';

import type {
  ISessionEvent,
  ISessionInfo,
  SidecarEvent
} from '../../src/common/api';
import {
  demoCluster,
  demoLaunchRequest,
  writeDemoSshFiles
} from '../support/demo-cluster';
import { ISidecar, makeHome, startSidecar } from '../support/sidecar';
import {
  expectLiveSidecar,
  labAddress,
  openHpcPanel,
  openLab,
  SCREENSHOT_DIR,
  sidecarUrl
} from './lab';

const demo = demoCluster();

function ssh(command: string): string {
  return execFileSync('ssh', ['-o', 'BatchMode=yes', demo.alias, command], {
    encoding: 'utf8'
  });
}

const headers = () => ({
  Authorization: `token ${labAddress().token}`,
  'X-Jupyterlab-Hpc': '1'
});

let other: ISidecar | null = null;
let started: ISessionInfo | null = null;

test.afterEach(async ({ request }) => {
  if (started?.jobId) {
    try {
      ssh(`scancel ${started.jobId}`);
    } catch {
      // Ended already.
    }
    // Leave the local list as it was found.
    const path = sidecarUrl(`/api/v1/sessions/${started.id}`);
    await expect
      .poll(
        async () =>
          (await request.delete(path, { headers: headers() })).status(),
        { timeout: 30_000 }
      )
      .toBe(404)
      .catch(() => undefined);
  }
  started = null;
  if (other) {
    await other.stop();
    rmSync(other.home, { recursive: true, force: true });
    other = null;
  }
});

test('a session started on another computer: found, attached, running here, cancelled', async ({
  page
}) => {
  test.setTimeout(240_000);
  const home = makeHome('jlhpc-ui-other-');
  writeDemoSshFiles(home);
  other = await startSidecar({ home });
  const put = await other.api('PUT', '/api/v1/clusters', {
    clusters: [{ name: 'demo', host: 'hpc-demo' }]
  });
  expect(put.status).toBe(200);
  const launched = await other.api<ISessionInfo>(
    'POST',
    '/api/v1/clusters/demo/sessions',
    demoLaunchRequest()
  );
  expect(launched.status, JSON.stringify(launched.body)).toBe(201);
  started = launched.body;
  const jobId = started.jobId!;

  await openLab(page);
  const panel = await openHpcPanel(page);
  await expectLiveSidecar(panel);
  const section = panel.getByRole('region', { name: 'Sessions' });
  // Two ways in: the Sessions section, and the cluster row's context menu
  // (taken here: it names the cluster from the row it was opened on).
  await expect(
    section.getByRole('button', { name: 'Sessions started elsewhere…' })
  ).toBeEnabled();
  await panel
    .locator('.jp-HpcClusterRow[data-cluster-id="demo"]')
    .click({ button: 'right' });
  await page
    .getByRole('menuitem', { name: 'Sessions Started Elsewhere…' })
    .click();

  const dialog = page.locator('dialog.jp-Dialog');
  await expect(dialog).toContainText('Sessions started elsewhere on demo');
  // Other helpers' sessions may be listed too: this one by its job.
  const choice = dialog.getByRole('radio', {
    name: new RegExp(`^job ${jobId} `)
  });
  await expect(choice).toBeVisible();
  await expect(choice).toHaveAccessibleName(
    new RegExp(`started on ${hostname()}`)
  );
  await dialog.screenshot({ path: `${SCREENSHOT_DIR}/session-attach.png` });
  await choice.check();
  await dialog.getByRole('button', { name: 'Attach' }).click();
  await expect(dialog).toHaveCount(0);

  const row = section.getByRole('listitem').filter({ hasText: `job ${jobId}` });
  await expect(row).toBeVisible();
  await expect(row).toContainText(`attached, started on ${hostname()}`);
  await expect(row.getByRole('status')).toHaveText(/^Running on \S+/, {
    timeout: 120_000
  });
  await expect(row.getByRole('button', { name: 'Open' })).toBeEnabled();
  await row.screenshot({ path: `${SCREENSHOT_DIR}/session-attached.png` });

  // Cancelled here: the job ends, and the other computer sees it end.
  await row.getByRole('button', { name: 'Cancel' }).click();
  const confirm = page.locator('dialog.jp-Dialog');
  await expect(confirm).toContainText(`Cancel job ${jobId} on demo?`);
  await confirm.getByRole('button', { name: 'Cancel job' }).click();
  await expect(row.getByRole('status')).toHaveText('Ended: Cancelled', {
    timeout: 60_000
  });
  const id = started.id;
  await other.waitForEvent(
    (e: SidecarEvent): e is ISessionEvent =>
      e.type === 'session' &&
      e.session.id === id &&
      e.session.phase === 'ended',
    30_000
  );
  expect(ssh(`squeue -h -j ${jobId} -t pending,running -o %i`).trim()).toBe('');
});

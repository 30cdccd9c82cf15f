/**
 * A JupyterLab session on the demo cluster, followed from the local
 * JupyterLab: started through the sidecar's API (the launch form is tested
 * on its own), seen queued or starting and then running in the HPC panel
 * and in the Running sidebar, announced by a notification, its log
 * followed, opened in a new tab already logged in, and shut down from the
 * Running sidebar. The job is cancelled whatever happens.
 */
import { execFileSync } from 'child_process';

import { expect, test, type Locator, type Page } from '@playwright/test';

import type { ISessionInfo } from '../../src/common/api';
import { demoCluster, demoLaunchRequest } from '../support/demo-cluster';
import {
  expectLiveSidecar,
  labAddress,
  openHpcPanel,
  openLab,
  SCREENSHOT_DIR,
  sidecarUrl
} from './lab';

const demo = demoCluster();

/** squeue on the demo cluster, as its user, over plain ssh. */
function squeueJobs(): string[] {
  return execFileSync(
    'ssh',
    ['-o', 'BatchMode=yes', demo.alias, `squeue -h -u ${demo.user} -o %i`],
    { encoding: 'utf8' }
  )
    .split('\n')
    .map(l => l.trim())
    .filter(Boolean);
}

const headers = () => ({
  Authorization: `token ${labAddress().token}`,
  'X-Jupyterlab-Hpc': '1'
});

/** The session's row in the panel's Sessions section. */
function sessionRow(panel: Locator, jobId: string): Locator {
  return panel
    .getByRole('region', { name: 'Sessions' })
    .getByRole('listitem')
    .filter({ hasText: `job ${jobId}` });
}

async function openRunningSidebar(page: Page): Promise<Locator> {
  const tab = page.getByRole('tab', { name: 'Running Terminals and Kernels' });
  if ((await tab.getAttribute('aria-selected')) !== 'true') {
    // Plain Playwright here: galata's page.sidebar helpers are not loaded.
    // eslint-disable-next-line jupyter/galata-prefer-sidebar-activity-helper
    await tab.click();
  }
  const sidebar = page.locator('#jp-running-sessions');
  await expect(sidebar).toBeVisible();
  return sidebar;
}

let started: ISessionInfo | null = null;

test.afterEach(async ({ request }) => {
  if (!started?.jobId) {
    return;
  }
  // Whatever happened: no allocation is left behind.
  await request
    .post(sidecarUrl(`/api/v1/sessions/${started.id}/cancel`), {
      headers: headers()
    })
    .catch(() => undefined);
  try {
    execFileSync('ssh', [
      '-o',
      'BatchMode=yes',
      demo.alias,
      `scancel ${started.jobId}`
    ]);
  } catch {
    // Ended already.
  }
  started = null;
});

test('a session: queued, running, notified, logged, opened, shut down from the Running sidebar', async ({
  page,
  context,
  request
}) => {
  test.setTimeout(240_000);
  await openLab(page);
  const panel = await openHpcPanel(page);
  await expectLiveSidecar(panel);
  await expect(
    panel
      .getByRole('region', { name: 'Sessions' })
      .getByText(/No JupyterLab sessions/)
  ).toBeVisible();

  const launched = await request.post(
    sidecarUrl('/api/v1/clusters/demo/sessions'),
    { headers: headers(), data: demoLaunchRequest() }
  );
  expect(launched.status(), await launched.text()).toBe(201);
  started = (await launched.json()) as ISessionInfo;
  const jobId = started.jobId!;
  expect(jobId).toMatch(/^\d+$/);

  const row = sessionRow(panel, jobId);
  await expect(row).toBeVisible();
  await expect(row.getByText('demo', { exact: true })).toBeVisible();
  // Seen before it runs (the demo queue is quick: any of the early words).
  await expect(row.getByRole('status')).toHaveText(
    /Submitting|Queued|Starting JupyterLab on|Connecting to|Running on/
  );

  // Running: the row, its live countdown, and one notification with Open.
  await expect(row.getByRole('status')).toHaveText(/^Running on \S+/, {
    timeout: 120_000
  });
  await expect(row).toHaveAttribute('data-phase', 'running');
  await expect(row.getByText(/elapsed · \d+ min left/)).toBeVisible();
  const left = Number(await row.getAttribute('data-seconds-left'));
  await expect
    .poll(async () => Number(await row.getAttribute('data-seconds-left')), {
      timeout: 5_000
    })
    .toBeLessThan(left);
  const toast = page
    .locator('.Toastify__toast')
    .filter({ hasText: `JupyterLab on demo (job ${jobId}) is running on` });
  await expect(toast).toHaveCount(1);
  await expect(toast.getByRole('button', { name: 'Open' })).toBeVisible();
  await page.screenshot({ path: `${SCREENSHOT_DIR}/session-running.png` });

  // The Running sidebar lists it.
  const sidebar = await openRunningSidebar(page);
  const item = sidebar
    .locator('.jp-HpcRunningSession')
    .filter({ hasText: `Job ${jobId} on demo` });
  await expect(item).toBeVisible();
  await expect(sidebar.getByText('HPC Sessions')).toBeVisible();
  await sidebar.screenshot({
    path: `${SCREENSHOT_DIR}/session-running-sidebar.png`
  });

  // The log follows the job's output: JupyterLab's own start-up lines.
  const hpc = await openHpcPanel(page);
  await sessionRow(hpc, jobId).getByRole('button', { name: 'Log' }).click();
  const logTab = page.getByRole('main').getByRole('tab', {
    name: `Log: demo · job ${jobId}`
  });
  await expect(logTab).toBeVisible();
  await expect(page.getByLabel('Output', { exact: true })).toContainText(
    /Jupyter Server [\d.]+ is running at/,
    { timeout: 30_000 }
  );
  // jupyter_server prints its URLs with the token: never on screen here.
  await expect(page.getByLabel('Output', { exact: true })).toContainText(
    '/lab?token=…'
  );
  await expect(page.getByLabel('Output', { exact: true })).not.toContainText(
    /token=[0-9a-f]{6}/
  );
  await page.screenshot({ path: `${SCREENSHOT_DIR}/session-log.png` });

  // Open: a new tab on the remote JupyterLab, logged in by its token.
  const [remote] = await Promise.all([
    context.waitForEvent('page'),
    sessionRow(hpc, jobId).getByRole('button', { name: 'Open' }).click()
  ]);
  await remote.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/lab/, {
    timeout: 60_000
  });
  await expect(remote.locator('#jp-main-dock-panel')).toBeVisible({
    timeout: 60_000
  });
  await expect(remote.locator('input[type="password"]')).toHaveCount(0);
  expect(await remote.evaluate(() => window.opener)).toBeNull();
  await remote.close();

  // Shut down from the Running sidebar, confirmed in our dialog.
  const running = await openRunningSidebar(page);
  const entry = running
    .locator('.jp-HpcRunningSession')
    .filter({ hasText: `Job ${jobId} on demo` });
  await entry.hover();
  await entry.getByTitle('Cancel job').click();
  const dialog = page.locator('dialog.jp-Dialog');
  await expect(dialog).toContainText(`Cancel job ${jobId} on demo?`);
  await dialog.getByRole('button', { name: 'Cancel job' }).click();

  await expect(entry).toHaveCount(0, { timeout: 60_000 });
  const ended = sessionRow(await openHpcPanel(page), jobId);
  await expect(ended.getByRole('status')).toHaveText('Ended: Cancelled', {
    timeout: 60_000
  });
  await expect(ended.getByRole('button', { name: 'Dismiss' })).toBeEnabled();
  await ended.screenshot({ path: `${SCREENSHOT_DIR}/session-ended.png` });
  expect(squeueJobs()).not.toContain(jobId);

  // Dismissed, it leaves the list.
  await ended.getByRole('button', { name: 'Dismiss' }).click();
  await expect(ended).toHaveCount(0);
});

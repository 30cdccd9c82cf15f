/**
 * "JupyterLab on demo" in a real JupyterLab against the real demo cluster
 * (tests/cluster/demo-cluster.sh: partitions debug and gpu, the latter with
 * a 1 hour limit; accounting with the accounts physics and chemistry): the
 * launcher tile opens the form with what the cluster reports, a wall time
 * over the gpu partition's limit is refused next to its field, and a valid
 * form submits a job that squeue shows. The job is cancelled afterwards.
 */
import { execFileSync } from 'child_process';
import { mkdirSync } from 'fs';

import { expect, test } from '@playwright/test';

import type { ISessionList } from '../../src/common/api';
import {
  labAddress,
  launcherSection,
  openLab,
  PRESET_SETTINGS,
  putSettings,
  SCREENSHOT_DIR,
  sidecarUrl
} from './lab';

/** Reading the offer connects to the cluster and runs sinfo and sacctmgr. */
const CLUSTER_TIMEOUT = 45_000;

function squeueIds(): string[] {
  return execFileSync(
    'ssh',
    [
      '-o',
      'BatchMode=yes',
      'hpc-demo',
      'squeue',
      '-h',
      '-u',
      'hpcdemo',
      '-o',
      '%i'
    ],
    { encoding: 'utf8', timeout: 30_000 }
  )
    .split('\n')
    .map(l => l.trim())
    .filter(Boolean);
}

/** The jobs this test submitted, to be cancelled whatever happens. */
const submitted: string[] = [];

test.beforeAll(() => {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
});

test.afterEach(async ({ request }) => {
  if (submitted.length > 0) {
    execFileSync(
      'ssh',
      ['-o', 'BatchMode=yes', 'hpc-demo', 'scancel', ...submitted],
      {
        timeout: 30_000
      }
    );
  }
  await putSettings(request, { ...PRESET_SETTINGS });
});

test('the JupyterLab on demo tile opens the form, refuses a wall time over the limit, and submits a job', async ({
  page,
  request
}) => {
  test.setTimeout(180_000);
  const before = new Set(squeueIds());
  await openLab(page);
  await launcherSection(page, 'HPC')
    .getByRole('button', { name: 'JupyterLab on demo' })
    .click();

  const dialog = page.getByRole('dialog', { name: 'JupyterLab on demo' });
  await expect(dialog).toBeVisible();
  const partition = dialog.getByLabel('Partition', { exact: true });
  // What the real cluster reports: its partitions with their limits and GRES...
  await expect(partition.locator('option')).toHaveText(
    [
      /^debug \(default\) — max no limit · \d+\/\d+ nodes idle · .* · gpu:tesla:2$/,
      /^gpu — max 1:00:00 · .* · gpu:tesla:2$/
    ],
    { timeout: CLUSTER_TIMEOUT }
  );
  // ...and the accounts of the demo user.
  const account = dialog.getByLabel('Account', { exact: true });
  await expect(account.locator('option').first()).toHaveText(
    'Your default (physics)'
  );
  // The cluster's order; what matters is that both are there.
  expect(
    (await account.locator('option').allTextContents()).slice(1).sort()
  ).toEqual(['chemistry', 'physics']);
  await expect(
    dialog.getByLabel('JupyterLab environment', { exact: true })
  ).toHaveValue('/home/hpcdemo/.local/miniforge/envs/jupyterlab', {
    timeout: CLUSTER_TIMEOUT
  });

  // The demo's envs without JupyterLab are listed, off, with their fix.
  const envSelect = dialog.getByLabel('JupyterLab environment', {
    exact: true
  });
  await expect(
    envSelect.locator('option', { hasText: 'analysis — no JupyterLab' })
  ).toBeDisabled();
  await dialog.getByText(/environments have no JupyterLab/).click();
  await expect(dialog.locator('.jp-HpcLaunchForm-without')).toContainText(
    '/home/hpcdemo/.local/miniforge/envs/analysis/bin/python -m pip install jupyterlab'
  );

  const launch = dialog.getByRole('button', { name: 'Launch' });
  const wallTime = dialog.getByLabel('Wall time', { exact: true });
  await partition.selectOption('gpu');
  await dialog.getByLabel('CPUs', { exact: true }).fill('1');
  await dialog.getByLabel('Memory', { exact: true }).fill('500M');
  await wallTime.fill('2:00:00');
  // The sidecar's check, next to the field; Launch waits for a fix.
  await expect(wallTime).toHaveAttribute('aria-invalid', 'true');
  await expect(dialog.locator('.jp-HpcForm-problem')).toContainText(
    'The gpu partition allows at most'
  );
  await expect(launch).toBeDisabled();
  await dialog.screenshot({
    path: `${SCREENSHOT_DIR}/launch-form-problem.png`
  });

  await wallTime.fill('0:10:00');
  await expect(wallTime).not.toHaveAttribute('aria-invalid', 'true');
  await expect(launch).toBeEnabled();
  await dialog.locator('.jp-HpcLaunchForm-without').scrollIntoViewIfNeeded();
  await dialog.screenshot({ path: `${SCREENSHOT_DIR}/launch-form.png` });
  await launch.click();
  await expect(dialog).toBeHidden({ timeout: CLUSTER_TIMEOUT });

  // The session's job, as the sidecar lists it and as squeue shows it.
  const { token } = labAddress();
  let jobId = '';
  await expect
    .poll(
      async () => {
        const response = await request.get(sidecarUrl('/api/v1/sessions'), {
          headers: { Authorization: `token ${token}` }
        });
        const list = (await response.json()) as ISessionList;
        const mine = list.sessions.find(
          s =>
            s.cluster === 'demo' &&
            s.request.partition === 'gpu' &&
            s.request.wallTime === '0:10:00' &&
            s.jobId !== null &&
            !before.has(s.jobId)
        );
        jobId = mine?.jobId ?? '';
        if (jobId && !submitted.includes(jobId)) {
          submitted.push(jobId);
        }
        return jobId;
      },
      { timeout: CLUSTER_TIMEOUT }
    )
    .not.toBe('');
  expect(squeueIds()).toContain(jobId);
  // The panel shows where the session is.
  await expect(page.locator('#jp-hpc-panel')).toBeVisible();
});

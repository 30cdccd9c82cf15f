/**
 * A cluster kernel end to end, in a real JupyterLab against the demo
 * cluster (tests/cluster/demo-cluster.sh: one node `vm` with 8 CPUs; the
 * env my-project-env has ipykernel and ipywidgets): the environment's row
 * adds it as a cluster kernel, the launcher lists it with its logo, a
 * notebook opened with it shows the start queued (the node is filled by a
 * blocker job first, so the allocation's job really waits), then the kernel
 * runs in the allocation's job: execute, input(), rich output, an
 * ipywidgets slider, an interrupt of a busy loop, a restart in the same job
 * (no requeue), the panel's allocation with the kernel, and a shutdown after
 * which no kernel step is left in the job. Everything is ended whatever
 * happens: blockers, the allocation, the profile, the notebook.
 */
import { execFileSync } from 'child_process';
import { mkdirSync } from 'fs';

import {
  expect,
  test,
  type APIRequestContext,
  type Locator,
  type Page
} from '@playwright/test';

import type { IAllocationList, IKernelProfileList } from '../../src/common/api';
import {
  expectLiveSidecar,
  labAddress,
  launcherSection,
  openHpcPanel,
  openLab,
  SCREENSHOT_DIR,
  sidecarUrl
} from './lab';

const ENV = 'my-project-env';
const ENV_PREFIX = `/home/hpcdemo/.local/miniforge/envs/${ENV}`;
const KERNEL = `Python [conda env:${ENV}] on demo`;
/** Listing a cluster's envs, or its offer, may include connecting to it. */
const CLUSTER_TIMEOUT = 45_000;
/** From the blocker's end to a kernel that answers: scheduling, srun, relay. */
const KERNEL_READY_TIMEOUT = 120_000;

function ssh(...argv: string[]): string {
  return execFileSync('ssh', ['-o', 'BatchMode=yes', 'hpc-demo', ...argv], {
    encoding: 'utf8',
    timeout: 30_000
  });
}

function jobState(jobId: string): string {
  return ssh('squeue', '-h', '-j', jobId, '-o', '%T').trim();
}

/** The steps of a job as squeue lists them: `<job>.batch`, `<job>.0`, ... */
function jobSteps(jobId: string): string[] {
  return ssh('squeue', '-h', '-s', '-j', jobId, '-o', '%i')
    .split('\n')
    .map(l => l.trim())
    .filter(Boolean);
}

/** Idle CPUs of the debug partition's node (sinfo's A/I/O/T). */
function idleCpus(): number {
  const [, idle] = ssh('sinfo', '-h', '-p', 'debug', '-o', '%C')
    .trim()
    .split('/');
  return Number(idle);
}

const headers = (): Record<string, string> => ({
  Authorization: `token ${labAddress().token}`,
  'X-Jupyterlab-Hpc': '1'
});

/** What this test started, ended whatever happens. */
const blockers: string[] = [];
let notebookPath: string | null = null;

/**
 * Fill the node with jobs that are not ours, so that the allocation's job
 * waits in the queue (reason Resources) until they are cancelled.
 */
async function fillTheNode(): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const idle = idleCpus();
    if (idle === 0) {
      return;
    }
    const id = ssh(
      'sbatch',
      '--parsable',
      '--job-name=ui-kernel-blocker',
      '-p',
      'debug',
      `--cpus-per-task=${idle}`,
      '--time=5',
      '--wrap',
      "'sleep 300'"
    )
      .trim()
      .split(';')[0];
    blockers.push(id);
    await expect.poll(() => jobState(id), { timeout: 30_000 }).toBe('RUNNING');
  }
  expect(idleCpus(), 'the node is still not full').toBe(0);
}

function freeTheNode(): void {
  if (blockers.length > 0) {
    ssh('scancel', ...blockers);
    blockers.length = 0;
  }
}

async function ourProfiles(
  request: APIRequestContext
): Promise<IKernelProfileList['profiles']> {
  const response = await request.get(sidecarUrl('/api/v1/kernel-profiles'), {
    headers: headers()
  });
  expect(response.status()).toBe(200);
  const list = (await response.json()) as IKernelProfileList;
  return list.profiles.filter(
    p => p.cluster === 'demo' && p.environment === ENV_PREFIX
  );
}

async function allocations(
  request: APIRequestContext
): Promise<IAllocationList['allocations']> {
  const response = await request.get(sidecarUrl('/api/v1/kernel-allocations'), {
    headers: headers()
  });
  expect(response.status()).toBe(200);
  return ((await response.json()) as IAllocationList).allocations;
}

/** The Jupyter session of the notebook, with its kernel. */
async function notebookKernel(
  request: APIRequestContext,
  path: string
): Promise<{ sessionId: string; kernelId: string } | null> {
  const { url, token } = labAddress();
  const response = await request.get(`${url}api/sessions`, {
    headers: { Authorization: `token ${token}` }
  });
  const sessions = (await response.json()) as {
    id: string;
    path: string;
    kernel: { id: string } | null;
  }[];
  const mine = sessions.find(s => s.path === path && s.kernel);
  return mine ? { sessionId: mine.id, kernelId: mine.kernel!.id } : null;
}

test.beforeAll(() => {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
});

test.afterEach(async ({ request }) => {
  freeTheNode();
  const { url, token } = labAddress();
  const auth = { Authorization: `token ${token}` };
  if (notebookPath) {
    const session = await notebookKernel(request, notebookPath);
    if (session) {
      await request.delete(`${url}api/sessions/${session.sessionId}`, {
        headers: auth
      });
    }
    await request.delete(
      `${url}api/contents/${encodeURIComponent(notebookPath)}`,
      { headers: auth }
    );
    notebookPath = null;
  }
  const profiles = await ourProfiles(request);
  const ids = new Set(profiles.map(p => p.id));
  const jobs: string[] = [];
  for (const a of await allocations(request)) {
    if (a.profile !== null && ids.has(a.profile) && a.phase !== 'ended') {
      if (a.jobId) {
        jobs.push(a.jobId);
      }
      await request.delete(
        sidecarUrl(`/api/v1/kernel-allocations/${encodeURIComponent(a.id)}`),
        { headers: headers() }
      );
    }
  }
  for (const p of profiles) {
    await request.delete(
      sidecarUrl(`/api/v1/kernel-profiles/${encodeURIComponent(p.id)}`),
      { headers: headers() }
    );
  }
  for (const job of jobs) {
    await expect.poll(() => jobState(job), { timeout: 30_000 }).toBe('');
  }
  // The lab is shared by every spec: leave the demo cluster as the others
  // expect it (clusters.spec.ts checks it is not connected), once the ends
  // are recorded (sacct is asked why a job ended, over the connection).
  await expect
    .poll(
      async () =>
        (await allocations(request)).every(
          a => a.profile === null || !ids.has(a.profile) || a.phase === 'ended'
        ),
      { timeout: 30_000 }
    )
    .toBe(true);
  await request.post(sidecarUrl('/api/v1/clusters/demo/disconnect'), {
    headers: headers()
  });
  await expect
    .poll(
      async () =>
        (
          await (
            await request.get(sidecarUrl('/api/v1/clusters/demo'), {
              headers: headers()
            })
          ).json()
        ).state,
      { timeout: 15_000 }
    )
    .toBe('idle');
});

/** A cell's editor, clicked into edit mode, the code typed, run. */
async function runCell(
  page: Page,
  notebook: Locator,
  index: number,
  code: string
): Promise<Locator> {
  const cell = notebook.locator('.jp-Notebook .jp-Cell').nth(index);
  await cell.locator('.cm-content').click();
  await expect(cell.locator('.cm-editor')).toHaveClass(/cm-focused/);
  await page.keyboard.type(code);
  await expect(cell.locator('.cm-content')).toHaveText(code);
  await page.keyboard.press('Shift+Enter');
  return cell;
}

/**
 * The kernel's status as the status bar shows it for the current notebook
 * ("<kernel> | Idle"): the notebook toolbar's own indicator goes into the
 * toolbar's overflow menu when the panel leaves it too little room.
 */
function kernelStatus(page: Page): Locator {
  const name = KERNEL.replace(/[[\]]/g, '\\$&');
  return page
    .locator('#jp-main-statusbar')
    .getByText(new RegExp(`^${name} \\| `));
}

/** A command of the main menu: Kernel → Restart Kernel…, ... */
async function menu(page: Page, top: string, item: RegExp): Promise<void> {
  await page.getByRole('menuitem', { name: top, exact: true }).click();
  await page.getByRole('menuitem', { name: item }).first().click();
}

test('add my-project-env as a cluster kernel, start it queued, run cells, interrupt, restart, shut down', async ({
  page,
  request
}) => {
  test.setTimeout(420_000);
  await openLab(page);
  const panel = await openHpcPanel(page);
  await expectLiveSidecar(panel);

  // The environment's row on the demo cluster offers the cluster kernel.
  const cluster = panel
    .getByRole('region', { name: 'Clusters' })
    .getByRole('listitem', { name: 'demo', exact: true });
  const envs = cluster.getByRole('region', { name: 'Environments on demo' });
  const toggle = envs.getByRole('button', { name: /^Environments/ });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }
  await expect(toggle).toHaveText(/^Environments \(\d+\)$/, {
    timeout: CLUSTER_TIMEOUT
  });
  const row = envs.locator(`li[data-prefix="${ENV_PREFIX}"]`);
  await row
    .getByRole('group', { name: `Environment actions for ${ENV}` })
    .getByRole('button', { name: 'Add as cluster kernel…', exact: true })
    .click();

  const dialog = page.locator('.jp-HpcProfileDialog');
  await expect(dialog).toBeVisible();
  await expect(
    dialog.getByLabel('Name in the kernel picker', { exact: true })
  ).toHaveAttribute('placeholder', KERNEL);
  const wallTime = dialog.getByLabel('Wall time', { exact: true });
  await expect(wallTime).toBeVisible({ timeout: CLUSTER_TIMEOUT });
  await expect(dialog.getByLabel('Partition', { exact: true })).toHaveValue(
    'debug'
  );
  await wallTime.fill('15');
  await dialog.getByLabel('CPUs', { exact: true }).fill('1');
  // The settings' default (8G) is more than the demo node has.
  await dialog.getByLabel('Memory', { exact: true }).fill('500M');
  const add = dialog.getByRole('button', { name: 'Add kernel' });
  await expect(add).toBeEnabled();
  await add.click();
  await expect(dialog).toBeHidden({ timeout: CLUSTER_TIMEOUT });
  const [profile] = await ourProfiles(request);
  expect(profile).toMatchObject({
    displayName: KERNEL,
    resources: { partition: 'debug', wallTime: '15', cpus: 1, memory: '500M' }
  });

  // The launcher lists it at once, with the cluster kernel's logo.
  const tile = launcherSection(page, 'Notebook').getByRole('button', {
    name: KERNEL
  });
  await expect(tile).toBeVisible({ timeout: 10_000 });
  const logo = tile.locator('.jp-LauncherCard-icon img');
  await expect(logo).toHaveAttribute(
    'src',
    new RegExp(`kernelspecs/${profile.specName}/logo-`)
  );
  await expect
    .poll(() => logo.evaluate(img => (img as HTMLImageElement).naturalWidth))
    .toBeGreaterThan(0);

  // With the node full, the allocation's job has to wait in the queue.
  await fillTheNode();
  await tile.click();
  const notebook = page.getByRole('main').locator('.jp-NotebookPanel');
  await expect(notebook).toBeVisible();
  // Its file, named by JupyterLab in the lab's root: cleaned up at the end.
  const tab = page.getByRole('main').getByRole('tab', { selected: true });
  await expect(tab).toHaveText(/\.ipynb$/);
  const path = (await tab.innerText()).trim();
  notebookPath = path;
  const start = notebook.locator('.jp-Toolbar .jp-HpcKernelStart');
  const status = start.locator(
    '[role=status][aria-label="Cluster kernel start"]'
  );
  await expect(status).toHaveAttribute('data-state', 'queued', {
    timeout: CLUSTER_TIMEOUT
  });
  await expect(start.locator('.jp-HpcKernelStart-text')).toHaveText(
    /^Queued on demo: \w+/
  );
  await expect(start.getByRole('button', { name: 'Cancel' })).toBeEnabled();
  await expect(kernelStatus(page)).not.toHaveText(/\| Idle$/);
  // The same words in a notification, seen from anywhere in JupyterLab
  // (its first words, "Asking demo for a job…", are updated too).
  const toast = page
    .getByRole('alert')
    .filter({ hasText: `${path}: Queued on demo` });
  await expect(toast).toBeVisible();
  await notebook.screenshot({ path: `${SCREENSHOT_DIR}/kernel-queued.png` });
  // The panel shows the waiting allocation.
  const kernelsSection = panel.locator('section[aria-label="Cluster kernels"]');
  const allocation = kernelsSection.locator('li.jp-HpcAllocation');
  await expect(allocation).toHaveAttribute('data-phase', 'queued');
  const jobId = (await allocation.getAttribute('data-job-id')) ?? '';
  expect(jobId).toMatch(/^\d+$/);
  expect(jobState(jobId)).toBe('PENDING');

  freeTheNode();
  await expect(kernelStatus(page)).toHaveText(/\| Idle$/, {
    timeout: KERNEL_READY_TIMEOUT
  });
  await expect(start).toBeHidden();
  await expect(toast).toHaveCount(0);
  await expect(allocation).toHaveAttribute('data-phase', 'running');
  expect(jobState(jobId)).toBe('RUNNING');

  // The notebook's kernel, as the Jupyter server has it.
  const session = await notebookKernel(request, path);
  expect(session).not.toBeNull();
  const kernelId = session!.kernelId;

  // The kernel picker lists it too.
  await notebook
    .locator('.jp-Toolbar')
    .getByRole('button', { name: KERNEL })
    .click();
  const picker = page.getByRole('dialog').filter({ hasText: 'Select Kernel' });
  await expect(picker).toContainText(KERNEL);
  await page.keyboard.press('Escape');
  await expect(picker).toBeHidden();

  // Execute: it runs in the allocation's job.
  let index = 0;
  const jobCell = await runCell(
    page,
    notebook,
    index++,
    'import os; print(os.environ["SLURM_JOB_ID"])'
  );
  await expect(jobCell.locator('.jp-OutputArea-output')).toHaveText(jobId, {
    timeout: 30_000
  });

  // input(): answered in the notebook's stdin box.
  const stdinCell = await runCell(
    page,
    notebook,
    index++,
    'answer = input("Your name? "); print("got", answer)'
  );
  const stdin = stdinCell.locator('input.jp-Stdin-input');
  await expect(stdin).toBeVisible({ timeout: 30_000 });
  await expect(stdinCell.locator('.jp-Stdin-prompt')).toHaveText('Your name? ');
  await stdin.fill('hpc user');
  await stdin.press('Enter');
  await expect(stdinCell.locator('.jp-OutputArea')).toContainText(
    'got hpc user',
    { timeout: 30_000 }
  );

  // A rich output, rendered as HTML.
  const richCell = await runCell(
    page,
    notebook,
    index++,
    `from IPython.display import HTML; HTML("<b id='rich'>bold</b>")`
  );
  await expect(richCell.locator('.jp-RenderedHTML b#rich')).toHaveText('bold', {
    timeout: 30_000
  });

  // Comms: an ipywidgets slider renders and shows its value.
  const widgetCell = await runCell(
    page,
    notebook,
    index++,
    'import ipywidgets; ipywidgets.IntSlider(value=7, description="n")'
  );
  const slider = widgetCell.locator('.widget-slider');
  await expect(slider).toBeVisible({ timeout: 30_000 });
  await expect(slider.locator('.widget-readout')).toHaveText('7');
  await notebook.screenshot({ path: `${SCREENSHOT_DIR}/kernel-cells.png` });

  // Interrupt a busy loop from the toolbar; the kernel survives.
  const loopCell = await runCell(page, notebook, index++, 'while True: pass');
  await expect(kernelStatus(page)).toHaveText(/\| Busy$/);
  await notebook
    .locator('.jp-Toolbar [data-command="notebook:interrupt-kernel"]')
    .click();
  await expect(loopCell.locator('.jp-OutputArea')).toContainText(
    'KeyboardInterrupt',
    { timeout: 30_000 }
  );
  await expect(kernelStatus(page)).toHaveText(/\| Idle$/);
  const afterCell = await runCell(page, notebook, index++, 'print(6 * 7)');
  await expect(afterCell.locator('.jp-OutputArea-output')).toHaveText('42', {
    timeout: 30_000
  });

  // Restart: the same kernel in the same job (no requeue).
  await menu(page, 'Kernel', /^Restart Kernel…/);
  const question = page.getByRole('dialog', { name: /^Restart Kernel\?/ });
  await question
    .getByRole('button', { name: 'Confirm Kernel Restart' })
    .click();
  await expect(question).toBeHidden();
  await expect(kernelStatus(page)).toHaveText(/\| Idle$/, {
    timeout: KERNEL_READY_TIMEOUT
  });
  const restartedCell = await runCell(
    page,
    notebook,
    index++,
    'import os; print(os.environ["SLURM_JOB_ID"], "answer" in dir())'
  );
  await expect(restartedCell.locator('.jp-OutputArea-output')).toHaveText(
    `${jobId} False`,
    { timeout: 30_000 }
  );
  expect((await notebookKernel(request, path))?.kernelId).toBe(kernelId);

  // The panel: the allocation of the job, with this kernel in it.
  await expect(kernelsSection).toBeVisible();
  await expect(allocation).toHaveAttribute('data-job-id', jobId);
  const kernelRow = allocation.locator(
    `li.jp-HpcAllocation-kernel[data-kernel-id="${kernelId}"]`
  );
  await expect(kernelRow).toHaveAttribute('data-state', 'running');
  await expect(kernelRow).toContainText(path);
  const steps = jobSteps(jobId);
  expect(steps.some(s => /^\d+\.\d+$/.test(s))).toBe(true);
  await kernelsSection.scrollIntoViewIfNeeded();
  await kernelsSection.screenshot({
    path: `${SCREENSHOT_DIR}/kernel-allocation.png`
  });

  // Shut down: no kernel step is left in the job, which waits out the grace.
  await menu(page, 'Kernel', /^Shut Down Kernel/);
  // JupyterLab asks first in some versions.
  const confirm = page.getByRole('dialog', { name: /shut down/i });
  const asked = await confirm
    .waitFor({ state: 'visible', timeout: 2_000 })
    .then(
      () => true,
      () => false
    );
  if (asked) {
    await confirm
      .getByRole('button', { name: /Shut Down/i })
      .last()
      .click();
  }
  await expect(page.locator('#jp-main-statusbar')).toContainText('No Kernel');
  await expect(kernelRow).toHaveCount(0, { timeout: 30_000 });
  await expect
    .poll(() => jobSteps(jobId).filter(s => !/\.(batch|extern)$/.test(s)), {
      timeout: 30_000
    })
    .toEqual([]);
  expect(jobSteps(jobId)).toContain(`${jobId}.batch`);
  expect(await notebookKernel(request, path)).toBeNull();
  await expect(allocation).toHaveAttribute('data-phase', 'running');
});

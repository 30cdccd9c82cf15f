/**
 * What the UI tests share: where the lab started by global-setup.ts runs,
 * the settings it starts with, and small helpers around JupyterLab's UI and
 * REST API.
 */
import {
  expect,
  test,
  type APIRequestContext,
  type Locator,
  type Page
} from '@playwright/test';

import type { IHpcSettings } from '../../src/common/settings';

export const LAB_ENV = {
  url: 'JUPYTERLAB_HPC_UI_URL',
  token: 'JUPYTERLAB_HPC_UI_TOKEN'
} as const;

/** The settings the lab starts with, and that every test starts from. */
export const PRESET_SETTINGS: Partial<IHpcSettings> = {
  clusters: [{ name: 'demo', host: 'hpc-demo' }]
};

export const PLUGIN_ID = 'jupyterlab-hpc:plugin';

/** Where screenshots meant for people (not failures) go. */
export const SCREENSHOT_DIR = `${__dirname}/screenshots`;

export interface ILabAddress {
  /** Base URL with a trailing slash, e.g. http://127.0.0.1:40123/ */
  url: string;
  token: string;
}

export function labAddress(): ILabAddress {
  const url = process.env[LAB_ENV.url];
  const token = process.env[LAB_ENV.token];
  if (!url || !token) {
    throw new Error(
      `${LAB_ENV.url} / ${LAB_ENV.token} are unset: run through ` +
        '`npx playwright test --config tests/ui/playwright.config.ts`, whose ' +
        'global setup starts JupyterLab.'
    );
  }
  return { url, token };
}

/** The URL of a sidecar route, through jupyter-server-proxy. */
export function sidecarUrl(path: string): string {
  return `${labAddress().url}jupyterlab-hpc${path}`;
}

/**
 * Open JupyterLab in a fresh workspace of its own (so no layout leaks from
 * one test into another through the server-side workspace) and wait until
 * the shell and the launcher are there. The token in the URL logs the
 * browser context in (cookie) for everything that follows.
 */
export async function openLab(
  page: Page,
  workspace: string = test.info().title
): Promise<void> {
  const { url, token } = labAddress();
  const name = workspace.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
  await page.goto(`${url}lab/workspaces/${name}?reset&token=${token}`);
  await expect(page.locator('#jp-main-dock-panel')).toBeVisible();
  await expect(page.getByRole('tabpanel', { name: 'Launcher' })).toBeVisible();
}

/** The launcher's section of one category. */
export function launcherSection(page: Page, category: string): Locator {
  return page
    .getByRole('tabpanel', { name: 'Launcher' })
    .locator('.jp-Launcher-section')
    .filter({
      has: page.getByRole('heading', { name: category, exact: true, level: 2 })
    });
}

/** The HPC side panel, opened from its tab in the left sidebar. */
export async function openHpcPanel(page: Page): Promise<Locator> {
  const tab = page.getByRole('tab', { name: 'HPC', exact: true });
  if ((await tab.getAttribute('aria-selected')) !== 'true') {
    await tab.click();
  }
  const panel = page.locator('#jp-hpc-panel');
  await expect(panel).toBeVisible();
  return panel;
}

/**
 * Wait until the panel's sidecar answers and its event channel is live. A
 * healthy sidecar shows no box in the panel, so this reads the state the
 * panel keeps on its node.
 */
export async function expectLiveSidecar(panel: Locator): Promise<void> {
  await expect(panel).toHaveAttribute('data-sidecar-status', 'ready');
  await expect(panel).toHaveAttribute('data-sidecar-live', 'true');
}

/** Bring a main-area tab (Launcher, Settings, ...) to the front. */
export async function activateMainTab(
  page: Page,
  label: string
): Promise<void> {
  const tab = page.getByRole('main').getByRole('tab', { name: label });
  await tab.click();
  await expect(tab).toHaveAttribute('aria-selected', 'true');
}

/** Open the command palette and search it. */
export async function searchPalette(
  page: Page,
  query: string
): Promise<Locator> {
  await page.getByRole('menuitem', { name: 'View' }).click();
  await page
    .getByRole('menuitem', { name: /^Activate Command Palette/ })
    .click();
  const palette = page.locator('#modal-command-palette');
  await expect(palette).toBeVisible();
  await palette.getByRole('textbox').fill(query);
  return palette;
}

/**
 * The palette's items grouped by the category header shown above them, as
 * the user sees them after a search.
 */
export async function paletteCategories(
  palette: Locator
): Promise<Record<string, string[]>> {
  return palette.locator('.lm-CommandPalette-content').evaluate(list => {
    const groups: Record<string, string[]> = {};
    let current = '';
    for (const li of Array.from(list.children)) {
      if (li.classList.contains('lm-CommandPalette-header')) {
        current = (li.textContent ?? '').trim();
        groups[current] = groups[current] ?? [];
      } else if (li.getAttribute('role') === 'menuitem') {
        const label = li.querySelector('.lm-CommandPalette-itemLabel');
        groups[current]?.push((label?.textContent ?? '').trim());
      }
    }
    return groups;
  });
}

function authHeader(): Record<string, string> {
  return { Authorization: `token ${labAddress().token}` };
}

/**
 * Write the user settings of a plugin through JupyterLab's REST API, as the
 * Settings Editor stores them. Token auth skips the XSRF check.
 */
export async function putSettings(
  request: APIRequestContext,
  settings: Record<string, unknown>,
  plugin: string = PLUGIN_ID
): Promise<void> {
  const response = await request.put(
    `${labAddress().url}lab/api/settings/${plugin}`,
    { headers: authHeader(), data: { raw: JSON.stringify(settings, null, 2) } }
  );
  expect(response.status(), await response.text()).toBe(204);
}

/** The user settings of jupyterlab-hpc:plugin as the server stores them. */
export async function getHpcSettings(
  request: APIRequestContext
): Promise<Record<string, unknown>> {
  const response = await request.get(
    `${labAddress().url}lab/api/settings/${PLUGIN_ID}`,
    { headers: authHeader() }
  );
  expect(response.status()).toBe(200);
  return (await response.json()).settings;
}

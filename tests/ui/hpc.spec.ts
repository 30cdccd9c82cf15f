/**
 * jupyterlab-hpc in a real JupyterLab and a real browser: the launcher tiles,
 * the side panel and its live sidecar connection (HTTP and WebSocket through
 * jupyter-server-proxy), the commands, the settings, and that the sidecar
 * route is closed to requests without Jupyter credentials.
 *
 * One JupyterLab serves all tests (global-setup.ts). It starts with the
 * cluster "demo" (host "hpc-demo"); tests that change settings put the
 * preset back afterwards.
 */
import { mkdirSync } from 'fs';

import { expect, test, type WebSocket } from '@playwright/test';

import { PACKAGE_VERSION } from '../../src/common/version';
import {
  activateMainTab,
  expectLiveSidecar,
  getHpcSettings,
  labAddress,
  launcherSection,
  openHpcPanel,
  openLab,
  paletteCategories,
  PRESET_SETTINGS,
  putSettings,
  SCREENSHOT_DIR,
  searchPalette,
  sidecarUrl
} from './lab';

const HEALTH = '/api/v1/health';
const EVENTS = '/api/v1/events';

test.beforeAll(() => {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
});

test.afterEach(async ({ request }) => {
  await putSettings(request, { ...PRESET_SETTINGS });
});

test('the launcher has an HPC section with the panel tile and JupyterLab on each cluster', async ({
  page
}) => {
  await openLab(page);
  const section = launcherSection(page, 'HPC');
  await expect(section).toBeVisible();
  const tiles = section.getByRole('button');
  await expect(tiles).toHaveText(['HPC Clusters', 'JupyterLab on demo']);
  await expect(
    section.getByRole('button', { name: 'HPC Clusters' })
  ).toHaveAttribute(
    'title',
    'Show the HPC side panel: clusters and their conda environments'
  );
  await expect(
    section.getByRole('button', { name: 'JupyterLab on demo' })
  ).toHaveAttribute(
    'title',
    'Start JupyterLab in a SLURM job on demo: choose the partition, resources and environment'
  );

  await section.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SCREENSHOT_DIR}/launcher.png` });
  await section.screenshot({ path: `${SCREENSHOT_DIR}/launcher-hpc.png` });
});

test('the side panel has live events and the clusters, and no box about a healthy sidecar', async ({
  page
}) => {
  // The event channel opens after the first good health check; catch its
  // frames from the moment the browser creates it.
  const frames: string[] = [];
  let eventSocket: WebSocket | null = null;
  page.on('websocket', ws => {
    if (ws.url().includes(`/jupyterlab-hpc${EVENTS}`)) {
      eventSocket = ws;
      ws.on('framereceived', frame => frames.push(String(frame.payload)));
    }
  });
  await openLab(page);

  const panel = await openHpcPanel(page);
  await expectLiveSidecar(panel);
  // Only a sidecar that needs the user gets a box.
  await expect(
    panel.getByRole('region', { name: 'Sidecar status' })
  ).toHaveCount(0);

  // The WebSocket went through jupyter-server-proxy and the sidecar spoke.
  expect(eventSocket).not.toBeNull();
  await expect
    .poll(() => frames.map(f => JSON.parse(f).type))
    .toContain('hello');
  const hello = JSON.parse(frames.find(f => f.includes('"hello"'))!);
  expect(hello.health).toMatchObject({
    name: 'jupyterlab-hpc-sidecar',
    version: PACKAGE_VERSION
  });
  // ...on the proxied route of this very server.
  expect(eventSocket!.url()).toMatch(
    /^ws:\/\/127\.0\.0\.1:\d+\/jupyterlab-hpc\/api\/v1\/events/
  );

  const clusters = panel.getByRole('region', { name: 'Clusters' });
  await expect(clusters.getByRole('listitem')).toHaveCount(1);
  await expect(clusters.getByRole('listitem')).toContainText('demo');
  await expect(clusters.getByRole('listitem')).toContainText('hpc-demo');
  await expect(
    clusters.getByRole('button', { name: 'Add cluster', exact: true })
  ).toBeVisible();

  await page.screenshot({ path: `${SCREENSHOT_DIR}/panel.png` });
  await panel.screenshot({ path: `${SCREENSHOT_DIR}/panel-only.png` });
});

test('the panel tile opens the panel with nothing highlighted', async ({
  page
}) => {
  await openLab(page);
  await launcherSection(page, 'HPC')
    .getByRole('button', { name: 'HPC Clusters' })
    .click();
  const panel = page.locator('#jp-hpc-panel');
  await expect(panel).toBeVisible();
  await expect(panel.locator('.jp-mod-highlighted')).toHaveCount(0);
});

test('the command palette lists the HPC commands, and one opens the HPC settings', async ({
  page
}) => {
  await openLab(page);
  const palette = await searchPalette(page, 'HPC');
  await expect(
    palette.getByRole('menuitem', { name: 'Show HPC Panel' })
  ).toBeVisible();
  const categories = await paletteCategories(palette);
  expect(categories['HPC']).toEqual(
    expect.arrayContaining([
      'Show HPC Panel',
      'HPC Cluster Settings',
      'Check the HPC Sidecar Again'
    ])
  );

  await palette.getByRole('menuitem', { name: 'HPC Cluster Settings' }).click();

  const main = page.getByRole('main');
  await expect(main.getByRole('tab', { name: 'Settings' })).toHaveAttribute(
    'aria-selected',
    'true'
  );
  const editor = main.getByRole('tabpanel', { name: 'Settings' });
  await expect(editor.getByRole('searchbox')).toHaveValue('HPC clusters');
  await expect(
    editor.getByRole('heading', { name: 'HPC clusters', level: 2 })
  ).toBeVisible();
  const form = editor.getByRole('group', { name: 'HPC clusters' });
  const entry = form.getByRole('group', { name: /^Cluster\*?$/ });
  await expect(entry).toBeVisible();
  await expect(entry.getByRole('textbox').first()).toHaveValue('demo');
});

test('"Show HPC Panel" from the palette opens the panel', async ({ page }) => {
  await openLab(page);
  const palette = await searchPalette(page, 'Show HPC Panel');
  await palette.getByRole('menuitem', { name: 'Show HPC Panel' }).click();
  await expect(page.locator('#jp-hpc-panel')).toBeVisible();
});

test('the sidecar route refuses requests without Jupyter credentials', async ({
  playwright,
  browser
}) => {
  const { token } = labAddress();
  const anonymous = await playwright.request.newContext();
  try {
    // No cookie, no token: the proxy redirects to the login page.
    const noAuth = await anonymous.get(sidecarUrl(HEALTH), { maxRedirects: 0 });
    expect([302, 403]).toContain(noAuth.status());
    if (noAuth.status() === 302) {
      expect(noAuth.headers()['location']).toMatch(/\/login\b/);
    }
    expect(await noAuth.text()).not.toContain('jupyterlab-hpc-sidecar');

    const wrongToken = await anonymous.get(sidecarUrl(HEALTH), {
      maxRedirects: 0,
      headers: { Authorization: 'token not-the-token' }
    });
    expect([302, 403]).toContain(wrongToken.status());
    expect(await wrongToken.text()).not.toContain('jupyterlab-hpc-sidecar');

    const post = await anonymous.post(sidecarUrl(HEALTH), {
      maxRedirects: 0,
      headers: { 'Content-Type': 'application/json' },
      data: {}
    });
    expect(post.status()).toBe(403);

    // With the token the same request reaches the sidecar.
    const withToken = await anonymous.get(sidecarUrl(HEALTH), {
      headers: { Authorization: `token ${token}` }
    });
    expect(withToken.status()).toBe(200);
    expect(await withToken.json()).toMatchObject({
      name: 'jupyterlab-hpc-sidecar',
      version: PACKAGE_VERSION,
      apiVersion: 1
    });
  } finally {
    await anonymous.dispose();
  }

  // A browser without the login cookie: the page is Jupyter's login form
  // and the event WebSocket is refused.
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(sidecarUrl(HEALTH));
    await expect(page).toHaveURL(/\/login\b/);
    await expect(page.locator('body')).not.toContainText(
      'jupyterlab-hpc-sidecar'
    );
    const outcome = await page.evaluate(
      url =>
        new Promise<string>(resolve => {
          const ws = new WebSocket(url);
          ws.onopen = () => {
            ws.close();
            resolve('open');
          };
          ws.onerror = () => resolve('refused');
          setTimeout(() => resolve('timeout'), 10_000);
        }),
      sidecarUrl(EVENTS).replace(/^http/, 'ws')
    );
    expect(outcome).toBe('refused');
  } finally {
    await context.close();
  }
});

test('settings saved through the REST API show on the next load', async ({
  page,
  request
}) => {
  await putSettings(request, {
    clusters: [
      { name: 'demo', host: 'hpc-demo' },
      {
        name: 'gpu',
        host: 'gpu-login',
        user: 'alice',
        port: 2222,
        jumpHost: 'gw.example.org'
      }
    ]
  });
  await openLab(page);

  await expect(launcherSection(page, 'HPC').getByRole('button')).toHaveText([
    'HPC Clusters',
    'JupyterLab on demo',
    'JupyterLab on gpu'
  ]);
  const panel = await openHpcPanel(page);
  const items = panel
    .getByRole('region', { name: 'Clusters' })
    .getByRole('listitem');
  await expect(items).toHaveCount(2);
  await expect(items.nth(1)).toContainText('gpu');
  await expect(items.nth(1)).toContainText(
    'alice@gpu-login:2222 via gw.example.org'
  );
});

test('a cluster added in the Settings Editor appears in the panel and launcher at once', async ({
  page,
  request
}) => {
  await openLab(page);
  const panel = await openHpcPanel(page);
  const clusterItems = panel
    .getByRole('region', { name: 'Clusters' })
    .getByRole('listitem');
  await expect(clusterItems).toHaveCount(1);

  // The panel's own button leads to the settings.
  await panel.getByRole('button', { name: 'HPC settings' }).click();
  const editor = page
    .getByRole('main')
    .getByRole('tabpanel', { name: 'Settings' });
  const form = editor.getByRole('group', { name: 'HPC clusters' });
  await form.getByRole('button', { name: 'Add item' }).first().click();
  // The second array item, with its own group and its move/remove buttons.
  const secondItem = form.locator('.array-item').nth(1);
  const added = secondItem.getByRole('group', { name: /^Cluster\*?$/ });
  // rjsf labels its inputs with headings, not <label>s: Name, then Host.
  await added.getByRole('textbox').nth(0).fill('gpu');
  await added.getByRole('textbox').nth(1).fill('gpu-login');

  // No reload: the settings registry's `changed` rebuilds the panel...
  await expect(clusterItems).toHaveCount(2);
  await expect(clusterItems.nth(1)).toContainText('gpu');
  await expect(clusterItems.nth(1)).toContainText('gpu-login');
  // ...and the launcher tiles.
  await activateMainTab(page, 'Launcher');
  const tiles = launcherSection(page, 'HPC').getByRole('button');
  await expect(tiles).toHaveText([
    'HPC Clusters',
    'JupyterLab on demo',
    'JupyterLab on gpu'
  ]);
  // The editor saved it for good.
  await expect
    .poll(async () => (await getHpcSettings(request))['clusters'])
    .toEqual([
      expect.objectContaining({ name: 'demo', host: 'hpc-demo' }),
      expect.objectContaining({ name: 'gpu', host: 'gpu-login' })
    ]);

  // Removing it takes its tile and list entry away again.
  await activateMainTab(page, 'Settings');
  // The array buttons are <jp-button>s whose title does not reach the
  // accessible name of the inner <button>, and they show only on hover.
  await secondItem.hover();
  await secondItem.getByTitle('Remove item').click();
  await expect(clusterItems).toHaveCount(1);
  await activateMainTab(page, 'Launcher');
  await expect(tiles).toHaveText(['HPC Clusters', 'JupyterLab on demo']);
});

test('the panel takes its colors from the JupyterLab theme (dark)', async ({
  page,
  request
}) => {
  const themes = '@jupyterlab/apputils-extension:themes';
  await putSettings(request, { theme: 'JupyterLab Dark' }, themes);
  try {
    await openLab(page);
    await expect(page.locator('body')).toHaveAttribute(
      'data-jp-theme-light',
      'false'
    );
    const panel = await openHpcPanel(page);
    await expectLiveSidecar(panel);

    const colors = await panel.evaluate(node => {
      // Resolve a theme variable the way the browser paints it.
      const resolve = (value: string) => {
        const probe = document.createElement('div');
        probe.style.color = value;
        document.body.appendChild(probe);
        const color = getComputedStyle(probe).color;
        probe.remove();
        return color;
      };
      const name = node.querySelector('.jp-HpcPanel-clusterName')!;
      const header = node.querySelector('.jp-HpcPanel-sectionHeader')!;
      return {
        panel: getComputedStyle(node).backgroundColor,
        layout1: resolve('var(--jp-layout-color1)'),
        text: getComputedStyle(name).color,
        font1: resolve('var(--jp-ui-font-color1)'),
        headerEdge: getComputedStyle(header).borderBottomColor,
        toolbarBorder: resolve('var(--jp-toolbar-border-color)')
      };
    });
    expect(colors.panel).toBe(colors.layout1);
    expect(colors.text).toBe(colors.font1);
    expect(colors.headerEdge).toBe(colors.toolbarBorder);
    // And that really is dark: the panel is not painted white.
    expect(colors.panel).not.toBe('rgb(255, 255, 255)');

    await page.screenshot({ path: `${SCREENSHOT_DIR}/panel-dark.png` });
  } finally {
    await putSettings(request, {}, themes);
  }
});

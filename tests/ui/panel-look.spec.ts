/**
 * How the HPC side panel and the HPC settings form read at JupyterLab's
 * default sidebar width, in the light and the dark theme: nothing overflows
 * its row, no word is broken across lines, long paths are cut in the middle
 * with the whole path as tooltip, and the open/closed sections survive a
 * reload. Screenshots go to tests/ui/screenshots/ for a person to compare.
 *
 * The shared lab of global-setup.ts, with its preset cluster "demo" (the
 * demo cluster, whose environments are listed) and one more cluster whose
 * long host and jump host must be elided.
 */
import { mkdirSync } from 'fs';

import {
  expect,
  test,
  type APIRequestContext,
  type Locator,
  type Page
} from '@playwright/test';

import {
  labAddress,
  openHpcPanel,
  openLab,
  PRESET_SETTINGS,
  putSettings,
  SCREENSHOT_DIR,
  searchPalette
} from './lab';

const THEMES_PLUGIN = '@jupyterlab/apputils-extension:themes';
/** Listing a cluster's envs may include connecting to it. */
const CLUSTER_TIMEOUT = 45_000;

const LONG_CLUSTER = {
  name: 'archer2-long-name-cluster',
  host: 'login-node-01.archer2.hpc.example-university.ac.uk',
  port: 2222,
  user: 'researcher',
  jumpHost: 'gateway.example-university.ac.uk'
};

test.beforeAll(() => {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
});

test.afterEach(async ({ request }) => {
  await putSettings(request, { ...PRESET_SETTINGS });
  await putSettings(request, {}, THEMES_PLUGIN);
});

/** The panel once the sidecar answers and its events are live. */
async function livePanel(page: Page): Promise<Locator> {
  const panel = await openHpcPanel(page);
  await expect(panel).toHaveAttribute('data-sidecar-live', 'true');
  return panel;
}

/** Switch themes as a user would: "Use Theme: …" in the command palette. */
async function useTheme(page: Page, theme: string): Promise<void> {
  const palette = await searchPalette(page, `Use Theme: ${theme}`);
  // Theme commands are checkboxes; their labels come in search marks.
  await palette
    .getByRole('menuitemcheckbox')
    .filter({ hasText: new RegExp(`${theme}$`) })
    .first()
    .click();
  const dark = theme.includes('Dark');
  await expect(page.locator('body')).toHaveAttribute(
    'data-jp-theme-light',
    String(!dark)
  );
}

/** A top-level section's header button ("Clusters", "This computer"). */
function sectionToggle(panel: Locator, name: string): Locator {
  return panel
    .getByRole('region', { name, exact: true })
    .getByRole('button', { name: new RegExp(`^${name}`, 'i') })
    .first();
}

interface ILayoutProblems {
  overflowing: string[];
  brokenWords: string[];
  cutPlaceholders: string[];
}

/**
 * What does not fit in `scope`: elements wider than their box (other than
 * the ones meant to clip, whose ellipsis is the point), words whose
 * letters land on two lines, and placeholders longer than their input.
 */
async function layoutProblems(scope: Locator): Promise<ILayoutProblems> {
  return scope.evaluate(root => {
    const describe = (el: Element) =>
      `${el.tagName.toLowerCase()}.${Array.from(el.classList).join('.')}: ${(
        el.textContent ?? ''
      )
        .trim()
        .slice(0, 60)}`;
    const clips = (el: Element) => {
      const style = getComputedStyle(el);
      return style.overflowX === 'hidden' && style.textOverflow === 'ellipsis';
    };
    const overflowing: string[] = [];
    for (const el of Array.from(root.querySelectorAll<HTMLElement>('*'))) {
      // One-line inputs scroll their text by design.
      if (
        el.closest('svg') ||
        el.offsetParent === null ||
        el.matches('input, textarea, select')
      ) {
        continue;
      }
      if (el.scrollWidth > el.clientWidth + 1 && !clips(el)) {
        overflowing.push(describe(el));
      }
    }
    const brokenWords: string[] = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent ?? '';
      const word = /\S+/g;
      for (let m = word.exec(text); m; m = word.exec(text)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set(
          Array.from(range.getClientRects())
            .filter(r => r.width > 0)
            .map(r => Math.round(r.top))
        );
        if (tops.size > 1) {
          brokenWords.push(`${m[0]} (in ${describe(node.parentElement!)})`);
        }
      }
    }
    const cutPlaceholders: string[] = [];
    const canvas = document.createElement('canvas').getContext('2d')!;
    for (const input of Array.from(
      root.querySelectorAll<HTMLInputElement>('input[placeholder]')
    )) {
      const style = getComputedStyle(input);
      canvas.font = `${style.fontSize} ${style.fontFamily}`;
      const room =
        input.clientWidth -
        parseFloat(style.paddingLeft) -
        parseFloat(style.paddingRight);
      if (canvas.measureText(input.placeholder).width > room) {
        cutPlaceholders.push(input.placeholder);
      }
    }
    return { overflowing, brokenWords, cutPlaceholders };
  });
}

async function expectReadable(scope: Locator): Promise<void> {
  expect(await layoutProblems(scope)).toEqual({
    overflowing: [],
    brokenWords: [],
    cutPlaceholders: []
  });
}

/** Open a target's Environments under `scope` and wait for its list. */
async function openEnvironments(scope: Locator): Promise<void> {
  const toggle = scope.getByRole('button', { name: /^Environments/ });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await toggle.click();
  }
  await expect(toggle).toHaveText(/^Environments \(\d+\)$/, {
    timeout: CLUSTER_TIMEOUT
  });
}

async function showPanelWithContent(
  page: Page,
  request: APIRequestContext
): Promise<Locator> {
  await putSettings(request, {
    ...PRESET_SETTINGS,
    clusters: [...(PRESET_SETTINGS.clusters ?? []), LONG_CLUSTER]
  });
  await openLab(page);
  const panel = await livePanel(page);
  const clusters = panel.getByRole('region', { name: 'Clusters' });
  await expect(clusters.getByRole('listitem')).toHaveCount(2);
  const demo = clusters.getByRole('listitem', { name: 'demo', exact: true });
  await openEnvironments(demo);
  return panel;
}

for (const theme of ['JupyterLab Light', 'JupyterLab Dark']) {
  const slug = theme.includes('Dark') ? 'dark' : 'light';

  test(`the panel reads well at the default sidebar width (${theme})`, async ({
    page,
    request
  }) => {
    const panel = await showPanelWithContent(page, request);
    if (slug === 'dark') {
      await useTheme(page, theme);
    }

    // JupyterLab's default left sidebar, not one widened for the test.
    const box = (await panel.boundingBox())!;
    expect(box.width).toBeGreaterThanOrEqual(200);
    expect(box.width).toBeLessThanOrEqual(320);
    test.info().annotations.push({
      type: 'sidebar width',
      description: `${Math.round(box.width)} px`
    });

    // A running sidecar needs nothing from the user: no box about it.
    await expect(
      panel.getByRole('region', { name: 'Sidecar status' })
    ).toHaveCount(0);
    // The toolbar's buttons are icons named by their tooltips.
    const toolbar = panel.getByRole('toolbar', { name: 'HPC panel actions' });
    await expect(toolbar.getByRole('button')).toHaveCount(2);
    await expect(
      toolbar.getByRole('button', { name: 'Check the HPC sidecar again' })
    ).toBeVisible();
    await expect(
      toolbar.locator('[title="Check the HPC sidecar again"]')
    ).toHaveCount(1);

    // The long host is cut in the middle; its tooltip has all of it.
    const long = panel.getByRole('listitem', {
      name: LONG_CLUSTER.name,
      exact: true
    });
    const host = long.locator('.jp-HpcPanel-clusterHost');
    const address =
      'researcher@login-node-01.archer2.hpc.example-university.ac.uk:2222 via gateway.example-university.ac.uk';
    await expect(host).toHaveAttribute('title', address);
    await expect(host).toHaveText(address);
    const elided = await host.evaluate(el => {
      const head = el.querySelector('.jp-HpcElided-head') as HTMLElement;
      const tail = el.querySelector('.jp-HpcElided-tail') as HTMLElement;
      return {
        headCut: head.scrollWidth > head.clientWidth,
        tailWhole: tail.scrollWidth <= tail.clientWidth,
        tail: tail.textContent
      };
    });
    expect(elided.headCut).toBe(true);
    expect(elided.tailWhole).toBe(true);
    expect(address.endsWith(elided.tail ?? '?')).toBe(true);

    // The demo cluster's env prefixes are paths with their own tooltips.
    const demo = panel.getByRole('listitem', { name: 'demo', exact: true });
    const prefixes = demo.locator('.jp-HpcEnv-prefix');
    await expect(prefixes.first()).toBeVisible();
    for (const prefix of await prefixes.all()) {
      expect(await prefix.getAttribute('title')).toBe(
        await prefix.textContent()
      );
    }

    await expectReadable(panel);
    await page.screenshot({ path: `${SCREENSHOT_DIR}/look-panel-${slug}.png` });
    await panel.screenshot({
      path: `${SCREENSHOT_DIR}/look-panel-only-${slug}.png`
    });

    // Opened the Environments filter: its placeholder fits too.
    await panel.evaluate(el => (el.scrollTop = el.scrollHeight));
    await panel.screenshot({
      path: `${SCREENSHOT_DIR}/look-panel-only-${slug}-scrolled.png`
    });
  });
}

test('closed sections stay closed after a reload', async ({ page }) => {
  await openLab(page);
  const panel = await livePanel(page);
  const clusters = sectionToggle(panel, 'Clusters');
  await expect(clusters).toHaveAttribute('aria-expanded', 'true');
  await clusters.click();
  await expect(clusters).toHaveAttribute('aria-expanded', 'false');
  await expect(
    panel.getByRole('region', { name: 'Clusters' }).getByRole('listitem')
  ).toHaveCount(0);

  // The layout lives in the workspace; wait until the server has it.
  const { url, token } = labAddress();
  const workspace = page.url().match(/\/lab\/workspaces\/([^/?#]+)/)![1];
  await expect
    .poll(async () => {
      const response = await page.request.get(
        `${url}lab/api/workspaces/${workspace}`,
        { headers: { Authorization: `token ${token}` } }
      );
      const body = await response.json();
      return body.data?.['jupyterlab-hpc:panel-layout'] ?? null;
    })
    .toEqual({ collapsed: ['clusters'], localEnvironments: false });

  await page.goto(`${url}lab/workspaces/${workspace}?token=${token}`);
  // The restored workspace reopens the panel by itself.
  const again = page.locator('#jp-hpc-panel');
  await expect(again).toBeVisible();
  await expect(again).toHaveAttribute('data-sidecar-live', 'true');
  const toggle = sectionToggle(again, 'Clusters');
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await panelScreenshot(again, 'look-panel-collapsed');

  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(
    again.getByRole('region', { name: 'Clusters' }).getByRole('listitem')
  ).toHaveCount(1);
});

async function panelScreenshot(panel: Locator, name: string): Promise<void> {
  await panel.screenshot({ path: `${SCREENSHOT_DIR}/${name}.png` });
}

for (const theme of ['JupyterLab Light', 'JupyterLab Dark']) {
  const slug = theme.includes('Dark') ? 'dark' : 'light';

  test(`the HPC clusters settings form names its entries and fits (${theme})`, async ({
    page,
    request
  }) => {
    await putSettings(request, {
      ...PRESET_SETTINGS,
      clusters: [...(PRESET_SETTINGS.clusters ?? []), LONG_CLUSTER],
      jobDefaults: { partition: 'gpu', account: 'proj-42' }
    });
    await openLab(page);
    if (slug === 'dark') {
      await useTheme(page, theme);
    }
    const palette = await searchPalette(page, 'HPC Cluster Settings');
    await palette
      .getByRole('menuitem', { name: 'HPC Cluster Settings' })
      .click();
    const editor = page
      .getByRole('main')
      .getByRole('tabpanel', { name: 'Settings' });
    const form = editor.getByRole('group', { name: 'HPC clusters' });
    await expect(form).toBeVisible();

    // Entries are titled, not "clusters-0".
    // (JupyterLab marks array items required: "Cluster*".)
    const entries = form.getByRole('group', { name: /^Cluster\*?$/ });
    await expect(entries).toHaveCount(2);
    await expect(entries.first().getByRole('textbox').first()).toHaveValue(
      'demo'
    );
    await expect(form.getByRole('group', { name: /^clusters-\d/ })).toHaveCount(
      0
    );

    // No "Default:" line without a value after it.
    const defaults = await form
      .locator('.jp-FormGroup-default')
      .allTextContents();
    expect(defaults.filter(d => /^Default:\s*$/.test(d))).toEqual([]);

    // Each description once per field.
    const descriptions = await form
      .locator('.jp-FormGroup-description')
      .evaluateAll(els =>
        els
          .filter(el => (el.textContent ?? '').trim() !== '')
          .map(el => ({
            text: (el.textContent ?? '').trim(),
            field: el.closest('.form-group')?.parentElement?.id ?? ''
          }))
      );
    const seen = new Set<string>();
    const twice = descriptions.filter(({ text, field }) => {
      const key = `${field}|${text}`;
      const repeated = seen.has(key);
      seen.add(key);
      return repeated;
    });
    expect(twice).toEqual([]);
    const allTexts = descriptions.map(d => d.text);
    expect(
      allTexts.filter(
        (text, i) =>
          allTexts.indexOf(text) !== i &&
          // The same field in two cluster entries says the same thing.
          !descriptions[i].field.includes('clusters')
      )
    ).toEqual([]);

    // The long installer URL gets the form's whole width (the box scrolls
    // the rest, as any one-line input), and its description fits.
    const conda = form.getByRole('group', { name: 'Conda' });
    const url = conda.getByRole('textbox');
    await url.scrollIntoViewIfNeeded();
    const widths = await url.evaluate((el: HTMLInputElement) => ({
      input: el.getBoundingClientRect().width,
      row: el.closest('fieldset')!.getBoundingClientRect().width
    }));
    expect(widths.input).toBeGreaterThan(widths.row * 0.9);
    expect(
      await conda
        .locator('.jp-FormGroup-description')
        .evaluate(el => el.scrollWidth <= el.clientWidth + 1)
    ).toBe(true);
    // What this plugin writes (titles, descriptions) fits its rows.
    const texts = await form
      .locator('.jp-FormGroup-description, .jp-FormGroup-fieldLabel')
      .evaluateAll(els =>
        els
          .filter(el => el.scrollWidth > el.clientWidth + 1)
          .map(el => el.textContent)
      );
    expect(texts).toEqual([]);

    await form.evaluate(el => el.scrollIntoView());
    await page.screenshot({
      path: `${SCREENSHOT_DIR}/look-settings-${slug}.png`
    });
    await entries.nth(1).scrollIntoViewIfNeeded();
    await page.screenshot({
      path: `${SCREENSHOT_DIR}/look-settings-${slug}-cluster.png`
    });
    await url.scrollIntoViewIfNeeded();
    await page.screenshot({
      path: `${SCREENSHOT_DIR}/look-settings-${slug}-conda.png`
    });
  });
}

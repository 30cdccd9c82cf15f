/**
 * Starts ONE real, isolated `jupyter lab` (tests/support/jupyter-lab.ts) on a
 * free port for the whole UI run, with a preset cluster, and hands its
 * address to the tests through the environment (workers inherit what global
 * setup puts there). The returned function is Playwright's global teardown.
 */
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';

import type { FullConfig } from '@playwright/test';

import { startLab } from '../support/jupyter-lab';
import { LAB_ENV, PRESET_SETTINGS } from './lab';

export default async function globalSetup(
  config: FullConfig
): Promise<() => Promise<void>> {
  const lab = await startLab({ hpcSettings: PRESET_SETTINGS });
  process.env[LAB_ENV.url] = lab.url;
  process.env[LAB_ENV.token] = lab.token;

  // Keep JupyterLab's "get notified about news?" toast from covering the
  // lower right corner of every page (and of every screenshot).
  const response = await fetch(
    `${lab.url}lab/api/settings/@jupyterlab/apputils-extension:notification`,
    {
      method: 'PUT',
      headers: { Authorization: `token ${lab.token}` },
      body: JSON.stringify({ raw: '{ "fetchNews": "false" }' })
    }
  );
  if (!response.ok) {
    await lab.stop();
    throw new Error(`could not turn off the news prompt: ${response.status}`);
  }

  return async () => {
    await lab.stop();
    // The lab's own directory is gone now (unless KEEP_TEST_LAB=1); keep
    // its log next to the test results for post-mortems.
    const outputDir = config.projects[0]?.outputDir;
    if (outputDir) {
      mkdirSync(outputDir, { recursive: true });
      writeFileSync(join(outputDir, 'jupyter-lab.log'), lab.log());
    }
  };
}

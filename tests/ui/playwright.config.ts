/**
 * Browser tests of jupyterlab-hpc against one real JupyterLab (started by
 * global-setup.ts from the project's .venv) in Debian's Chromium.
 *
 *   npx playwright test --config tests/ui/playwright.config.ts
 *
 * CHROMIUM: path of the browser (default /usr/bin/chromium; Playwright's
 * own download is never used). PW_JSON_OUTPUT: also write a JSON report
 * there. KEEP_TEST_LAB=1: keep the lab's directory (settings, log).
 */
import { join } from 'path';

import { defineConfig, type ReporterDescription } from '@playwright/test';

// Nothing here may fetch a browser.
process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';

const reporter: ReporterDescription[] = [['list']];
if (process.env.PW_JSON_OUTPUT) {
  reporter.push(['json', { outputFile: process.env.PW_JSON_OUTPUT }]);
}

export default defineConfig({
  testDir: __dirname,
  testMatch: '*.spec.ts',
  outputDir: join(__dirname, 'test-results'),
  globalSetup: join(__dirname, 'global-setup.ts'),
  // One JupyterLab serves every test, and some tests change its settings.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  // JupyterLab's first load on 2 cores takes ~10 s.
  timeout: 90_000,
  expect: { timeout: 20_000 },
  globalTimeout: 15 * 60_000,
  reporter,
  use: {
    browserName: 'chromium',
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    },
    actionTimeout: 15_000,
    navigationTimeout: 60_000,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure'
  }
});

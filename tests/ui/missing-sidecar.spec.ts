/**
 * A JupyterLab whose server has the extension's frontend but not its server
 * part (here: jupyter-server-proxy disabled, so there is no sidecar route),
 * as after installing into the wrong environment. The panel must say what is
 * wrong and what to run, and not pretend to be starting forever.
 */
import { expect, test } from '@playwright/test';

import { IRunningLab, startLab } from '../support/jupyter-lab';

let lab: IRunningLab;

test.beforeAll(async () => {
  lab = await startLab({
    serverConfig: {
      ServerApp: { jpserver_extensions: { jupyter_server_proxy: false } }
    }
  });
});

test.afterAll(async () => {
  await lab?.stop();
});

test('the panel tells the user to install the missing server part', async ({
  page
}) => {
  await page.goto(`${lab.url}lab?reset&token=${lab.token}`);
  await expect(page.locator('#jp-main-dock-panel')).toBeVisible();
  await page.getByRole('tab', { name: 'HPC', exact: true }).click();

  const status = page.getByRole('region', { name: 'Sidecar status' });
  await expect(status).toContainText(
    'The jupyterlab-hpc server part is missing'
  );
  await expect(status).toContainText('pip install jupyterlab-hpc');
  await expect(
    status.getByRole('button', { name: 'Check again' })
  ).toBeVisible();
});

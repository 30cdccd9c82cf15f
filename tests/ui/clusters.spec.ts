/**
 * Cluster connections in a real JupyterLab and browser, against the demo
 * cluster (tests/cluster/demo-cluster.sh start): its `hpc-demo` alias in the
 * ~/.ssh/config of the user running the tests, SLURM 22.05 behind sshd on
 * 127.0.0.1:2222, the host keys already in ~/.ssh/known_hosts.
 *
 * The lab starts with the cluster "demo" (host "hpc-demo"); every test puts
 * that preset back afterwards. No test writes to ~/.ssh: the unknown host
 * key is refused, not trusted. The 2FA and key-setup tests log in through
 * the SSH fixtures (tests/cluster/ssh-fixtures.sh start).
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import { expect, test, type Locator, type Page } from '@playwright/test';

import { totp } from '../support/totp';

import {
  expectLiveSidecar,
  getHpcSettings,
  openHpcPanel,
  openLab,
  PRESET_SETTINGS,
  putSettings,
  SCREENSHOT_DIR
} from './lab';

/** The demo sshd's port, as tests/cluster/demo-cluster.sh reads it. */
const DEMO_SSH_PORT = process.env.DEMO_SSH_PORT ?? '2222';

/** Connecting may take a login; a refused one must still end in seconds. */
const CONNECT_TIMEOUT = 45_000;

test.afterEach(async ({ request }) => {
  await putSettings(request, { ...PRESET_SETTINGS });
});

/** The HPC panel, once the sidecar's event channel is live. */
async function openPanel(page: Page): Promise<Locator> {
  await openLab(page);
  const panel = await openHpcPanel(page);
  await expectLiveSidecar(panel);
  return panel;
}

/** A cluster's row in the panel, named after the cluster. */
function clusterRow(panel: Locator, name: string): Locator {
  return panel
    .getByRole('region', { name: 'Clusters' })
    .getByRole('listitem', { name, exact: true });
}

/**
 * A button of a cluster row: its actions ("Actions for …") or the icon
 * buttons beside its name ("Manage …").
 */
function rowAction(row: Locator, name: string): Locator {
  return row
    .getByRole('group', { name: /^(Actions for|Manage) / })
    .getByRole('button', { name, exact: true });
}

async function openAddDialog(page: Page, panel: Locator): Promise<Locator> {
  await panel.getByRole('button', { name: 'Add cluster', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Add cluster' });
  await expect(dialog).toBeVisible();
  return dialog;
}

const textbox = (dialog: Locator, name: string) =>
  dialog.getByRole('textbox', { name, exact: true });

/** Add a cluster by typing its name and host into the dialog. */
async function addTypedCluster(
  page: Page,
  panel: Locator,
  fields: { name: string; host: string; port?: string; user?: string }
): Promise<Locator> {
  const dialog = await openAddDialog(page, panel);
  await textbox(dialog, 'Name').fill(fields.name);
  await textbox(dialog, 'Host or ~/.ssh/config alias').fill(fields.host);
  if (fields.user) {
    await textbox(dialog, 'User').fill(fields.user);
  }
  if (fields.port) {
    await textbox(dialog, 'Port').fill(fields.port);
  }
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(dialog).toBeHidden();
  const row = clusterRow(panel, fields.name);
  await expect(row).toBeVisible();
  return row;
}

test('a cluster added from the hpc-demo alias connects and reports SLURM 22.05', async ({
  page,
  request
}) => {
  const panel = await openPanel(page);
  const dialog = await openAddDialog(page, panel);

  // The aliases of ~/.ssh/config, each with where it leads.
  const hosts = dialog.getByRole('combobox', {
    name: 'Host from ~/.ssh/config'
  });
  await expect(hosts.getByRole('option', { name: /^hpc-demo — / })).toHaveText(
    /^hpc-demo — hpcdemo@127\.0\.0\.1:\d+/
  );
  await hosts.selectOption('hpc-demo');
  // "demo" is taken by the preset, "hpc-demo" is free.
  await expect(textbox(dialog, 'Name')).toHaveValue('hpc-demo');
  const host = textbox(dialog, 'Host or ~/.ssh/config alias');
  await expect(host).toHaveValue('hpc-demo');
  await expect(host).toHaveAccessibleDescription(
    /^From ~\/\.ssh\/config: hpcdemo@127\.0\.0\.1:\d+$/
  );
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(dialog).toBeHidden();

  // Saved in the settings, as the Settings Editor would.
  await expect
    .poll(async () => (await getHpcSettings(request))['clusters'])
    .toEqual([
      { name: 'demo', host: 'hpc-demo' },
      { name: 'hpc-demo', host: 'hpc-demo' }
    ]);

  const row = clusterRow(panel, 'hpc-demo');
  const state = row.getByRole('status');
  await expect(state).toHaveText('Not connected');

  await rowAction(row, 'Connect').click();
  await expect(state).toHaveText('Connected', { timeout: CONNECT_TIMEOUT });
  await expect(row).toContainText(/→ hpcdemo@127\.0\.0\.1:\d+/);

  await rowAction(row, 'Test connection').click();
  const result = row.getByRole('region', {
    name: 'Connection test of hpc-demo'
  });
  await expect(result).toBeVisible({ timeout: CONNECT_TIMEOUT });
  const facts = result.getByRole('definition');
  await expect(facts.nth(0)).toHaveText(/^[\d.]+ ms/); // round trip
  await expect(facts.nth(1)).toHaveText(/22\.05/); // SLURM
  // The demo has conda-layout environments but no conda command.
  await expect(result.getByRole('term')).toHaveText([
    'Round trip',
    'SLURM',
    'conda',
    'mamba',
    'micromamba',
    'Remote host',
    'Shell',
    'SSH client'
  ]);
  await expect(facts.nth(6)).toHaveText(/\/bash$/);
  // "Automatic" is OpenSSH wherever ssh can multiplex.
  await expect(facts.nth(7)).toHaveText('OpenSSH (ControlMaster)');
  await expect(state).toHaveText('Connected');
  await panel.screenshot({ path: `${SCREENSHOT_DIR}/cluster-tested.png` });
  await expect(
    page.getByRole('alert').filter({ hasText: /^hpc-demo: .* ms round trip/ })
  ).toBeVisible();

  await rowAction(row, 'Disconnect').click();
  await expect(state).toHaveText('Not connected');
  await expect(rowAction(row, 'Connect')).toBeEnabled();
});

test('a cluster whose host does not exist ends in a clear error, not a hang', async ({
  page
}) => {
  const panel = await openPanel(page);
  const row = await addTypedCluster(page, panel, {
    name: 'nowhere',
    host: 'no-such-host.invalid'
  });

  await rowAction(row, 'Connect').click();

  // A notification says why, and so does the row.
  await expect(
    page
      .getByRole('alert')
      .filter({ hasText: /^Could not connect to nowhere: / })
  ).toBeVisible({ timeout: CONNECT_TIMEOUT });
  const state = row.getByRole('status');
  await expect(state).toHaveText(/^Error: .*no-such-host\.invalid/);
  // It can be tried again, and the other cluster is untouched.
  await expect(rowAction(row, 'Connect')).toBeEnabled();
  await expect(clusterRow(panel, 'demo').getByRole('status')).toHaveText(
    'Not connected'
  );

  // A connection test says the same, in the row.
  await rowAction(row, 'Test connection').click();
  const result = row.getByRole('region', {
    name: 'Connection test of nowhere'
  });
  await expect(result.getByRole('alert')).toContainText(
    'no-such-host.invalid',
    { timeout: CONNECT_TIMEOUT }
  );
});

test('an unknown host key shows its SHA256 fingerprint, and Cancel refuses it', async ({
  page
}) => {
  const panel = await openPanel(page);
  // The demo's keys are known as [127.0.0.1]:<port>, not as localhost.
  const row = await addTypedCluster(page, panel, {
    name: 'demo-by-name',
    host: 'localhost',
    user: 'hpcdemo',
    port: DEMO_SSH_PORT
  });

  await rowAction(row, 'Connect').click();

  // The dialog's title is the sidecar's; its button is ours.
  const prompt = page.getByRole('dialog').filter({
    has: page.getByRole('button', { name: 'Trust and connect' })
  });
  await expect(prompt).toBeVisible({ timeout: CONNECT_TIMEOUT });
  await expect(row.getByRole('status')).toHaveText('Needs input');
  await expect(prompt.getByRole('definition').nth(0)).toContainText(
    'localhost'
  );
  await expect(prompt.locator('code')).toHaveText(/^SHA256:[A-Za-z0-9+/]{43}$/);
  await prompt.screenshot({ path: `${SCREENSHOT_DIR}/host-key-prompt.png` });
  await prompt.getByRole('button', { name: 'Cancel' }).click();

  await expect(prompt).toBeHidden();
  await expect(row.getByRole('status')).toHaveText(/^Error: /, {
    timeout: CONNECT_TIMEOUT
  });
});

test('the Add cluster dialog checks each field as the settings schema does', async ({
  page,
  request
}) => {
  const panel = await openPanel(page);
  const dialog = await openAddDialog(page, panel);
  const name = textbox(dialog, 'Name');
  const host = textbox(dialog, 'Host or ~/.ssh/config alias');
  const port = textbox(dialog, 'Port');
  const add = dialog.getByRole('button', { name: 'Add', exact: true });

  // Nothing filled in: "Add" stays in the dialog and says what is missing.
  await add.click();
  await expect(dialog).toBeVisible();
  await expect(name).toHaveAccessibleDescription('Required.');
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  await expect(name).toBeFocused();
  await expect(host).toHaveAccessibleDescription('Required.');

  await name.fill('demo');
  await expect(name).toHaveAccessibleDescription(
    'Another cluster has this name.'
  );
  await name.fill('my cluster');
  await expect(name).toHaveAccessibleDescription(/^Use up to 64 letters/);
  await host.fill('ana@gpu-login');
  await expect(host).toHaveAccessibleDescription(
    'Put the user name in the User field, not in the host.'
  );
  await port.fill('70000');
  await expect(port).toHaveAccessibleDescription('A port between 1 and 65535.');
  await dialog.screenshot({
    path: `${SCREENSHOT_DIR}/add-cluster-problems.png`
  });
  await port.press('Enter');
  await expect(dialog).toBeVisible();

  await name.fill('gpu');
  await host.fill('gpu-login');
  await port.fill('2222');
  await textbox(dialog, 'User').fill('alice');
  await textbox(dialog, 'Jump host (ProxyJump)').fill('gw.example.org');
  await expect(name).not.toHaveAttribute('aria-invalid', 'true');
  await port.press('Enter');
  await expect(dialog).toBeHidden();

  const row = clusterRow(panel, 'gpu');
  await expect(row).toContainText('alice@gpu-login:2222 via gw.example.org');
  await expect
    .poll(async () => (await getHpcSettings(request))['clusters'])
    .toEqual([
      { name: 'demo', host: 'hpc-demo' },
      {
        name: 'gpu',
        host: 'gpu-login',
        port: 2222,
        user: 'alice',
        jumpHost: 'gw.example.org'
      }
    ]);
});

test('a cluster is edited and removed from its row, removal confirmed first', async ({
  page,
  request
}) => {
  const panel = await openPanel(page);
  const row = clusterRow(panel, 'demo');

  await rowAction(row, 'Edit').click();
  const edit = page.getByRole('dialog', { name: 'Edit cluster demo' });
  await expect(textbox(edit, 'Name')).toHaveValue('demo');
  await textbox(edit, 'User').fill('hpcdemo');
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(edit).toBeHidden();
  await expect(row).toContainText('hpcdemo@hpc-demo');

  // Key setup offers a key of its own for the cluster; cancelled here.
  await rowAction(row, 'Set up SSH key').click();
  const keySetup = page.getByRole('dialog', {
    name: 'Set up an SSH key for demo'
  });
  await expect(textbox(keySetup, 'Key file')).toHaveValue(
    '~/.ssh/id_ed25519_demo'
  );
  await keySetup.getByRole('button', { name: 'Cancel' }).click();
  await expect(keySetup).toBeHidden();

  await rowAction(row, 'Remove').click();
  const confirm = page.getByRole('dialog', { name: /^Remove cluster demo\?/ });
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(row).toBeVisible();

  await rowAction(row, 'Remove').click();
  await confirm.getByRole('button', { name: 'Remove' }).click();
  await expect(row).toBeHidden();
  await expect(panel.getByText(/^No clusters yet\./)).toBeVisible();
  await expect
    .poll(async () => (await getHpcSettings(request))['clusters'])
    .toEqual([]);
});

// ---------------------------------------------------------------------------
// Logins that need the user, through the SSH fixtures (tests/cluster/
// ssh-fixtures.sh): its aliases reach ~/.ssh/config through an Include, with
// their host keys in the fixtures' own known_hosts.

interface IFixtureFacts {
  hosts: {
    twoFactor: { alias: string; totp: { secret: string } };
    password: { alias: string; password: string };
  };
}

const SSH_FIXTURES = join(__dirname, '..', 'cluster', 'ssh-fixtures.sh');

function fixtureFacts(): IFixtureFacts {
  return JSON.parse(
    readFileSync('/var/lib/jupyterlab-hpc-demo/ssh-fixtures.json', 'utf8')
  );
}

/** The prompt dialog whose field is labelled `label`. */
function promptWithField(page: Page, label: RegExp): Locator {
  return page.getByRole('dialog').filter({ has: page.getByLabel(label) });
}

test('a 2FA login asks for the code in a dialog, takes a retry, and connects', async ({
  page,
  request
}) => {
  const { twoFactor } = fixtureFacts().hosts;
  await putSettings(request, {
    ...PRESET_SETTINGS,
    clusters: [
      ...(PRESET_SETTINGS.clusters ?? []),
      { name: 'twofa', host: twoFactor.alias }
    ]
  });
  const panel = await openPanel(page);
  const row = clusterRow(panel, 'twofa');
  const state = row.getByRole('status');
  await expect(state).toHaveText('Not connected');

  await rowAction(row, 'Connect').click();
  // The key is accepted first (publickey,keyboard-interactive), then PAM asks.
  let prompt = promptWithField(page, /Verification code/);
  await expect(prompt).toBeVisible({ timeout: CONNECT_TIMEOUT });
  await expect(state).toHaveText('Needs input');
  const code = prompt.getByLabel(/Verification code/);
  await expect(code).toHaveAttribute('type', 'password');
  await prompt.screenshot({ path: `${SCREENSHOT_DIR}/2fa-prompt.png` });
  // A code from ten minutes ahead is wrong; PAM asks again, as ssh would.
  await code.fill(totp(twoFactor.totp.secret, 20));
  await prompt.getByRole('button', { name: 'Submit' }).click();

  prompt = promptWithField(page, /Verification code/);
  await expect(prompt).toBeVisible({ timeout: CONNECT_TIMEOUT });
  await prompt
    .getByLabel(/Verification code/)
    .fill(totp(twoFactor.totp.secret));
  await prompt.getByRole('button', { name: 'Submit' }).click();
  await expect(state).toHaveText('Connected', { timeout: CONNECT_TIMEOUT });
  await expect(prompt).toBeHidden();

  // The connection is shared: a test over it asks nothing more.
  await rowAction(row, 'Test connection').click();
  await expect(
    row.getByRole('region', { name: 'Connection test of twofa' })
  ).toBeVisible({ timeout: CONNECT_TIMEOUT });
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await rowAction(row, 'Disconnect').click();
  await expect(state).toHaveText('Not connected');
});

test('key setup creates a key, installs it through a password dialog, then logs in with it', async ({
  page,
  request
}) => {
  const { password } = fixtureFacts().hosts;
  // hpcpass starts with no authorized key, whatever an earlier run did.
  execFileSync('bash', [SSH_FIXTURES, 'reset-keys'], {
    stdio: 'ignore'
  });
  const keyDir = mkdtempSync(join(tmpdir(), 'jlhpc-ui-key-'));
  const keyPath = join(keyDir, 'id_ed25519_pass');
  try {
    await putSettings(request, {
      ...PRESET_SETTINGS,
      clusters: [
        ...(PRESET_SETTINGS.clusters ?? []),
        { name: 'pass', host: password.alias }
      ]
    });
    const panel = await openPanel(page);
    const row = clusterRow(panel, 'pass');

    await rowAction(row, 'Set up SSH key').click();
    const setup = page.getByRole('dialog', {
      name: 'Set up an SSH key for pass'
    });
    await expect(setup).toBeVisible();
    await setup.getByLabel('Key file').fill(keyPath);
    await setup.getByRole('button', { name: 'Create and install' }).click();

    // One password login installs the key; the password goes nowhere else.
    const prompt = promptWithField(page, /[Pp]assword/);
    await expect(prompt).toBeVisible({ timeout: CONNECT_TIMEOUT });
    await expect(prompt.getByLabel(/[Pp]assword/)).toHaveAttribute(
      'type',
      'password'
    );
    await prompt.getByLabel(/[Pp]assword/).fill(password.password);
    await prompt.getByRole('button', { name: 'Submit' }).click();

    const done = page.getByRole('dialog', { name: 'SSH key set up for pass' });
    await expect(done).toBeVisible({ timeout: CONNECT_TIMEOUT });
    await expect(done).toContainText('(created)');
    await expect(done).toContainText(
      'Public key added to ~/.ssh/authorized_keys'
    );
    const facts = done.getByRole('definition');
    await expect(facts.nth(0)).toContainText(keyPath);
    await expect(facts.nth(1)).toHaveText(/^SHA256:[A-Za-z0-9+/]{43}$/);
    await done.screenshot({ path: `${SCREENSHOT_DIR}/key-setup-done.png` });
    await done.getByRole('button', { name: 'Close' }).click();

    // The cluster now uses the key (saved in settings) and asks nothing.
    await expect
      .poll(async () => (await getHpcSettings(request))['clusters'])
      .toContainEqual({
        name: 'pass',
        host: password.alias,
        identityFile: keyPath
      });
    expect(statSync(keyPath).mode & 0o777).toBe(0o600);
    // The changed settings replace the password login's connection.
    const state = row.getByRole('status');
    await expect(state).toHaveText('Not connected');
    await rowAction(row, 'Connect').click();
    await expect(state).toHaveText('Connected', { timeout: CONNECT_TIMEOUT });
    await expect(page.getByRole('dialog')).toHaveCount(0);
    await rowAction(row, 'Disconnect').click();
  } finally {
    rmSync(keyDir, { recursive: true, force: true });
    execFileSync('bash', [SSH_FIXTURES, 'reset-keys'], {
      stdio: 'ignore'
    });
  }
});

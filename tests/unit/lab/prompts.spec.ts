import { Dialog, Notification } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';

import { IPrompt } from '../../../src/common/api';
import { fieldAutocomplete } from '../../../src/lab/clusters/prompt-dialog';
import { PromptQueue } from '../../../src/lab/clusters/prompts';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import { FakeSidecar, health, sidecarError, until } from './fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

const hostKey: IPrompt = {
  id: 'p-hostkey',
  cluster: 'demo',
  kind: 'host-key',
  title: 'Trust the host key of [127.0.0.1]:2222?',
  instructions: '',
  fields: [],
  hostKey: {
    host: '[127.0.0.1]:2222',
    keyType: 'ED25519',
    fingerprint: 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU',
    message:
      "The authenticity of host '[127.0.0.1]:2222 ([127.0.0.1]:2222)' can't be established.\nED25519 key fingerprint is SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU.\nAre you sure you want to continue connecting (yes/no/[fingerprint])?"
  },
  expiresAt: Date.now() + 120_000
};

const passphrase: IPrompt = {
  id: 'p-passphrase',
  cluster: 'demo',
  kind: 'passphrase',
  title: 'Passphrase for ~/.ssh/id_ed25519_demo',
  instructions: 'The key ~/.ssh/id_ed25519_demo is encrypted.',
  fields: [{ label: 'Passphrase', echo: false }],
  expiresAt: Date.now() + 120_000
};

const twoFactor: IPrompt = {
  id: 'p-2fa',
  cluster: 'demo',
  kind: 'keyboard-interactive',
  title: 'hpcdemo@login1: verification code',
  instructions: 'Enter the code from your authenticator app.',
  fields: [
    { label: 'Password: ', echo: false },
    { label: 'Verification code: ', echo: true }
  ],
  expiresAt: Date.now() + 120_000
};

let fake: FakeSidecar;
let sidecar: SidecarModel;
let queue: PromptQueue;
/** What GET /api/v1/prompts answers. */
let waiting: IPrompt[];

async function start(): Promise<void> {
  fake = new FakeSidecar();
  waiting = [];
  fake.on('GET', '/api/v1/prompts', () => waiting);
  fake.on('POST', '/api/v1/prompts/p-hostkey', () => null);
  fake.on('POST', '/api/v1/prompts/p-passphrase', () => null);
  fake.on('POST', '/api/v1/prompts/p-2fa', () => null);
  sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
  queue = new PromptQueue({
    sidecar,
    trans,
    serverSettings: fake.serverSettings
  });
  await until(() => fake.calls().includes('GET /api/v1/prompts'));
  fake.socket.open();
}

const dialogs = () =>
  Array.from(document.querySelectorAll<HTMLElement>('dialog.jp-Dialog'));
/** The one dialog open, once React has rendered its header and body. */
const shown = () =>
  until((): HTMLElement | null => {
    const [dialog, ...more] = dialogs();
    const rendered =
      dialog &&
      more.length === 0 &&
      !!title(dialog) &&
      dialog.querySelector('.jp-HpcPrompt > *') !== null;
    return rendered ? dialog : null;
  });
const title = (dialog: HTMLElement) =>
  dialog.querySelector('.jp-Dialog-header')?.textContent;
const buttons = (dialog: HTMLElement) =>
  Array.from(dialog.querySelectorAll<HTMLButtonElement>('.jp-Dialog-button'));
const button = (dialog: HTMLElement, label: string) =>
  buttons(dialog).find(b => b.textContent === label)!;
const inputs = (dialog: HTMLElement) =>
  Array.from(dialog.querySelectorAll<HTMLInputElement>('input'));
const posts = () =>
  fake.requests
    .filter(r => r.method === 'POST')
    .map(r => [r.path, r.body] as const);

afterEach(() => {
  queue?.dispose();
  sidecar?.dispose();
  Dialog.flush();
  Notification.manager.dismiss();
});

describe('PromptQueue', () => {
  it('shows a host key with its SHA256 fingerprint and trusts it with "yes"', async () => {
    await start();
    fake.socket.send({ type: 'prompt', prompt: hostKey });

    const dialog = await shown();
    expect(title(dialog)).toBe('Trust the host key of [127.0.0.1]:2222?');
    const facts = Array.from(dialog.querySelectorAll('dt')).map(dt => [
      dt.textContent,
      dt.nextElementSibling?.textContent
    ]);
    expect(facts).toEqual([
      ['Host', '[127.0.0.1]:2222'],
      ['Key type', 'ED25519'],
      ['Fingerprint', 'SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU']
    ]);
    expect(dialog.querySelector('.jp-HpcPrompt-message')?.textContent).toBe(
      hostKey.hostKey!.message
    );
    expect(buttons(dialog).map(b => b.textContent)).toEqual([
      'Cancel',
      'Trust and connect'
    ]);
    expect(inputs(dialog)).toEqual([]);

    button(dialog, 'Trust and connect').click();

    await until(() => posts().length === 1);
    expect(posts()).toEqual([
      ['/api/v1/prompts/p-hostkey', { answers: ['yes'] }]
    ]);
    await until(() => dialogs().length === 0);
  });

  it('trusts nothing on Enter: the focused default of a host key is Cancel', async () => {
    await start();
    fake.socket.send({ type: 'prompt', prompt: hostKey });
    const dialog = await shown();
    await until(() => document.activeElement === button(dialog, 'Cancel'));

    dialog.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })
    );

    await until(() => posts().length === 1);
    expect(posts()[0][1]).toEqual({ cancel: true });
  });

  it('asks for a passphrase in a password input, focused, and submits on Enter', async () => {
    await start();
    fake.socket.send({ type: 'prompt', prompt: passphrase });

    const dialog = await shown();
    expect(title(dialog)).toBe('Passphrase for ~/.ssh/id_ed25519_demo');
    expect(dialog.textContent).toContain(
      'The key ~/.ssh/id_ed25519_demo is encrypted.'
    );
    const [input] = inputs(dialog);
    expect(input.type).toBe('password');
    expect(input.autocomplete).toBe('off');
    expect(dialog.querySelector(`label[for="${input.id}"]`)?.textContent).toBe(
      'Passphrase'
    );
    await until(() => document.activeElement === input);

    input.value = 'correct horse';
    input.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })
    );

    await until(() => posts().length === 1);
    expect(posts()).toEqual([
      ['/api/v1/prompts/p-passphrase', { answers: ['correct horse'] }]
    ]);
    // The answer is not left behind in the page.
    expect(input.value).toBe('');
    expect(input.isConnected).toBe(false);
  });

  it('shows one input per keyboard-interactive field, a code as a one-time code', async () => {
    await start();
    fake.socket.send({ type: 'prompt', prompt: twoFactor });

    const dialog = await shown();
    const [password, code] = inputs(dialog);
    expect([password.type, password.autocomplete]).toEqual(['password', 'off']);
    expect([code.type, code.autocomplete]).toEqual(['text', 'one-time-code']);
    expect(
      Array.from(dialog.querySelectorAll('label')).map(l => l.textContent)
    ).toEqual(['Password:', 'Verification code:']);

    password.value = 'hunter2';
    code.value = '123456';
    button(dialog, 'Submit').click();

    await until(() => posts().length === 1);
    expect(posts()[0]).toEqual([
      '/api/v1/prompts/p-2fa',
      { answers: ['hunter2', '123456'] }
    ]);
  });

  it('cancels with { cancel: true }', async () => {
    await start();
    fake.socket.send({ type: 'prompt', prompt: passphrase });
    const dialog = await shown();

    button(dialog, 'Cancel').click();

    await until(() => posts().length === 1);
    expect(posts()[0]).toEqual([
      '/api/v1/prompts/p-passphrase',
      { cancel: true }
    ]);
  });

  it('shows prompts one at a time, in the order they came', async () => {
    await start();
    fake.socket.send({ type: 'prompt', prompt: hostKey });
    fake.socket.send({ type: 'prompt', prompt: passphrase });
    fake.socket.send({ type: 'prompt', prompt: hostKey }); // again: ignored

    const first = await shown();
    expect(title(first)).toBe(hostKey.title);
    expect(queue.pending.map(p => p.id)).toEqual(['p-hostkey', 'p-passphrase']);

    button(first, 'Trust and connect').click();
    await until(() => dialogs()[0] !== first);
    const second = await shown();
    expect(title(second)).toBe(passphrase.title);
    button(second, 'Cancel').click();

    await until(() => posts().length === 2);
    expect(posts().map(([path]) => path)).toEqual([
      '/api/v1/prompts/p-hostkey',
      '/api/v1/prompts/p-passphrase'
    ]);
    await until(() => dialogs().length === 0);
    expect(queue.pending).toEqual([]);
  });

  it('closes the dialog when the prompt is closed elsewhere, without answering', async () => {
    await start();
    fake.socket.send({ type: 'prompt', prompt: twoFactor });
    const dialog = await shown();

    fake.socket.send({ type: 'prompt-closed', id: 'p-2fa' });

    await until(() => dialogs().length === 0);
    expect(dialog.isConnected).toBe(false);
    expect(posts()).toEqual([]);
    expect(Notification.manager.notifications.map(n => n.message)).toEqual([
      '"hpcdemo@login1: verification code" was closed: answered in another tab, expired or no longer needed.'
    ]);
    // Shown again by a late copy of the event? No.
    fake.socket.send({ type: 'prompt', prompt: twoFactor });
    await new Promise(r => setTimeout(r, 20));
    expect(dialogs()).toEqual([]);
  });

  it('never shows a queued prompt that was closed before its turn', async () => {
    await start();
    fake.socket.send({ type: 'prompt', prompt: hostKey });
    fake.socket.send({ type: 'prompt', prompt: passphrase });
    const first = await shown();

    fake.socket.send({ type: 'prompt-closed', id: 'p-passphrase' });
    button(first, 'Cancel').click();

    await until(() => posts().length === 1);
    await new Promise(r => setTimeout(r, 20));
    expect(dialogs()).toEqual([]);
    expect(queue.pending).toEqual([]);
  });

  it('does not close a dialog already answered when its prompt-closed comes', async () => {
    await start();
    fake.on('POST', '/api/v1/prompts/p-passphrase', () => {
      // The sidecar announces the close before it answers the POST.
      fake.socket.send({ type: 'prompt-closed', id: 'p-passphrase' });
      return null;
    });
    fake.socket.send({ type: 'prompt', prompt: passphrase });
    const dialog = await shown();
    inputs(dialog)[0].value = 'secret';
    button(dialog, 'Submit').click();

    await until(() => posts().length === 1);
    await until(() => queue.current === null);
    expect(Notification.manager.notifications).toEqual([]);
  });

  it('shows the prompts already waiting when the page loads', async () => {
    fake = new FakeSidecar();
    fake.on('GET', '/api/v1/prompts', () => [passphrase]);
    sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
    queue = new PromptQueue({
      sidecar,
      trans,
      serverSettings: fake.serverSettings
    });

    const dialog = await shown();
    expect(title(dialog)).toBe(passphrase.title);
  });

  it('after a hello, shows new waiting prompts and closes those gone', async () => {
    await start();
    fake.socket.send({ type: 'prompt', prompt: passphrase });
    await shown();

    // The event channel was down while the sidecar restarted.
    waiting = [hostKey];
    fake.socket.send({ type: 'hello', health: { ...health, pid: 5 } });

    await until(
      () => dialogs().length === 1 && title(dialogs()[0]) === hostKey.title
    );
    expect(queue.pending.map(p => p.id)).toEqual(['p-hostkey']);
    expect(posts()).toEqual([]);
  });

  it('says so when the answer could not be delivered', async () => {
    await start();
    fake.on('POST', '/api/v1/prompts/p-passphrase', () =>
      sidecarError(404, 'not-found', 'No prompt p-passphrase is waiting.')
    );
    fake.socket.send({ type: 'prompt', prompt: passphrase });
    const dialog = await shown();
    inputs(dialog)[0].value = 'secret';
    button(dialog, 'Submit').click();

    await until(() => Notification.manager.notifications.length === 1);
    const [note] = Notification.manager.notifications;
    expect(note.type).toBe('error');
    expect(note.message).toBe(
      '"Passphrase for ~/.ssh/id_ed25519_demo" could not be answered: No prompt p-passphrase is waiting.'
    );
    // Nothing of the answer in what the user sees.
    expect(note.message).not.toContain('secret');
  });

  it('withdraws every prompt when the sidecar goes away', async () => {
    await start();
    fake.socket.send({ type: 'prompt', prompt: passphrase });
    await shown();

    fake.on('GET', '/api/v1/health', () => new Response('', { status: 502 }));
    fake.socket.drop();

    await until(() => dialogs().length === 0);
    expect(queue.pending).toEqual([]);
    expect(posts()).toEqual([]);
  });
});

describe('fieldAutocomplete', () => {
  it.each([
    ['keyboard-interactive', 'Verification code: ', 'one-time-code'],
    ['keyboard-interactive', 'OTP:', 'one-time-code'],
    ['keyboard-interactive', 'Duo two-factor passcode: ', 'one-time-code'],
    ['keyboard-interactive', 'Enter your 2FA token', 'one-time-code'],
    ['keyboard-interactive', 'Password: ', 'off'],
    ['keyboard-interactive', '(hpcdemo@login1) Password:', 'off'],
    ['password', 'Verification code', 'off'],
    ['passphrase', 'Passphrase', 'off']
  ] as const)('gives a %s field %p autocomplete=%p', (kind, label, value) => {
    expect(
      fieldAutocomplete({ ...twoFactor, kind }, { label, echo: false })
    ).toBe(value);
  });
});

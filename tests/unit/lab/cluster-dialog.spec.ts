import { Dialog } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { PromiseDelegate } from '@lumino/coreutils';

import { ISshHosts } from '../../../src/common/api';
import { IClusterConfig } from '../../../src/common/settings';
import {
  confirmRemoveCluster,
  showClusterDialog
} from '../../../src/lab/clusters/cluster-dialog';
import { SidecarRequestError } from '../../../src/lab/sidecar/request';
import {
  clusterFromDraft,
  draftFromCluster,
  EMPTY_DRAFT,
  IClusterDraft,
  suggestName,
  validateDraft
} from '../../../src/lab/clusters/validation';
import {
  check,
  choose,
  dialogButton,
  dialogs,
  dialogTitle,
  field,
  noteOf,
  openDialog,
  pressEnter,
  type
} from './dom';
import { until } from './fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

const hosts: ISshHosts = {
  aliases: [
    {
      alias: 'hpc-demo',
      hostName: '127.0.0.1',
      user: 'hpcdemo',
      port: 2222,
      via: ''
    },
    {
      alias: 'swc',
      hostName: 'hpc-gw1.example.org',
      user: 'ana',
      port: null,
      via: 'bastion.example.org'
    },
    { alias: 'broken', hostName: null, user: null, port: null, via: '' }
  ],
  configPath: '~/.ssh/config',
  error: null
};

afterEach(() => {
  Dialog.flush();
});

describe('validateDraft', () => {
  const draft = (change: Partial<IClusterDraft>): IClusterDraft => ({
    ...EMPTY_DRAFT,
    name: 'demo',
    host: 'hpc-demo',
    ...change
  });

  it.each([
    [{}, {}],
    [{ name: '' }, { name: 'required' }],
    [{ name: '  ' }, { name: 'required' }],
    [{ name: 'my cluster' }, { name: 'name-pattern' }],
    [{ name: '-demo' }, { name: 'name-pattern' }],
    [{ name: 'a'.repeat(65) }, { name: 'name-pattern' }],
    [{ name: 'a'.repeat(64) }, {}],
    [{ name: 'swc' }, { name: 'duplicate' }],
    [{ name: 'SWC' }, {}],
    [{ host: '' }, { host: 'required' }],
    [{ host: 'ana@hpc-gw1' }, { host: 'host-has-user' }],
    [{ host: 'login node' }, { host: 'host-pattern' }],
    [{ host: 'a/b' }, { host: 'host-pattern' }],
    [{ host: '10.0.0.5' }, {}],
    [{ host: '[::1]' }, {}],
    [{ user: 'ana.b_c-1' }, {}],
    [{ user: '-ana' }, { user: 'user-pattern' }],
    [{ user: 'a na' }, { user: 'user-pattern' }],
    [{ port: '22' }, {}],
    [{ port: ' 2222 ' }, {}],
    [{ port: '0' }, { port: 'port-range' }],
    [{ port: '65536' }, { port: 'port-range' }],
    [{ port: '65535' }, {}],
    [{ port: '22a' }, { port: 'port-not-number' }],
    [{ port: '2.5' }, { port: 'port-not-number' }],
    [{ jumpHost: 'gw1,ana@gw2:2200' }, {}],
    [{ jumpHost: 'gw1, gw2' }, { jumpHost: 'jump-pattern' }],
    [{ jumpHost: 'gw1,' }, { jumpHost: 'jump-pattern' }],
    // SSH-only fields are not judged (nor saved) for this computer.
    [{ transport: 'local', port: 'x', user: '-', jumpHost: ' ' }, {}],
    [{ transport: 'local', host: '' }, { host: 'required' }]
  ] as [Partial<IClusterDraft>, object][])(
    'judges %j as %j',
    (change, problems) => {
      expect(validateDraft(draft(change), ['swc', 'archer2'])).toEqual(
        problems
      );
    }
  );
});

describe('clusterFromDraft and draftFromCluster', () => {
  it('trims and types the fields of an SSH cluster', () => {
    expect(
      clusterFromDraft({
        name: ' gpu ',
        host: ' gpu-login ',
        user: ' ana ',
        port: ' 2222 ',
        identityFile: ' ~/.ssh/id_ed25519 ',
        jumpHost: '',
        transport: 'ssh',
        sshClient: 'openssh'
      })
    ).toEqual({
      name: 'gpu',
      host: 'gpu-login',
      user: 'ana',
      port: 2222,
      identityFile: '~/.ssh/id_ed25519',
      jumpHost: '',
      transport: 'ssh',
      sshClient: 'openssh'
    });
  });

  it('keeps only name and host of a cluster on this computer', () => {
    expect(
      clusterFromDraft({
        ...EMPTY_DRAFT,
        name: 'here',
        host: 'login1',
        user: 'ana',
        port: '22',
        transport: 'local'
      })
    ).toEqual({ name: 'here', host: 'login1', transport: 'local' });
  });

  it('round-trips a configured cluster', () => {
    const cluster: IClusterConfig = {
      name: 'gpu',
      host: 'gpu-login',
      port: 2222,
      user: 'ana',
      identityFile: '~/.ssh/id_ed25519',
      jumpHost: 'gw',
      transport: 'ssh',
      sshClient: 'builtin'
    };
    expect(clusterFromDraft(draftFromCluster(cluster))).toEqual(cluster);
    expect(draftFromCluster({ name: 'a', host: 'b' })).toEqual({
      ...EMPTY_DRAFT,
      name: 'a',
      host: 'b'
    });
  });
});

describe('suggestName', () => {
  it.each([
    ['hpc-demo', [], 'hpc-demo'],
    ['login.hpc.example.org', [], 'login.hpc.example.org'],
    ['my host', [], 'my-host'],
    ['_gw', [], 'gw'],
    ['***', [], 'cluster'],
    ['hpc-demo', ['hpc-demo'], 'hpc-demo-2'],
    ['hpc-demo', ['hpc-demo', 'hpc-demo-2'], 'hpc-demo-3'],
    ['x'.repeat(70), [], 'x'.repeat(64)],
    ['x'.repeat(64), ['x'.repeat(64)], `${'x'.repeat(62)}-2`]
  ])('makes %p, with %j taken, into %p', (alias, taken, name) => {
    expect(suggestName(alias, taken)).toBe(name);
    expect(validateDraft({ ...EMPTY_DRAFT, name, host: 'h' }, taken)).toEqual(
      {}
    );
  });
});

describe('showClusterDialog', () => {
  const open = (
    options: {
      cluster?: IClusterConfig;
      takenNames?: string[];
      loadHosts?: () => Promise<ISshHosts>;
    } = {}
  ) =>
    showClusterDialog({
      trans,
      takenNames: options.takenNames ?? ['demo'],
      loadHosts: options.loadHosts ?? (async () => hosts),
      cluster: options.cluster
    });

  it('offers the aliases of ~/.ssh/config with how each resolves', async () => {
    void open();
    const dialog = await openDialog('select');

    expect(dialogTitle(dialog)).toBe('Add cluster');
    const select = field<HTMLSelectElement>(dialog, 'Host from ~/.ssh/config');
    expect(Array.from(select.options).map(o => o.textContent)).toEqual([
      'Choose a host…',
      'hpc-demo — hpcdemo@127.0.0.1:2222',
      'swc — ana@hpc-gw1.example.org via bastion.example.org',
      'broken — broken (cannot be resolved)'
    ]);
    expect(
      Array.from(dialog.querySelectorAll('.jp-Dialog-button')).map(
        b => b.textContent
      )
    ).toEqual(['Cancel', 'Add']);
  });

  it('fills host and a free name from the alias chosen, and adds the cluster', async () => {
    const result = open({ takenNames: ['demo', 'swc'] });
    const dialog = await openDialog('select');
    const select = field<HTMLSelectElement>(dialog, 'Host from ~/.ssh/config');

    choose(select, 'hpc-demo');
    const name = field(dialog, 'Name');
    await until(() => name.value === 'hpc-demo');
    expect(field(dialog, 'Host or ~/.ssh/config alias').value).toBe('hpc-demo');
    expect(noteOf(field(dialog, 'Host or ~/.ssh/config alias'))).toBe(
      'From ~/.ssh/config: hpcdemo@127.0.0.1:2222'
    );

    // Another choice replaces the name it filled in: it was not typed.
    choose(select, 'swc');
    await until(() => name.value === 'swc-2');

    dialogButton(dialog, 'Add').click();
    await expect(result).resolves.toEqual({
      name: 'swc-2',
      host: 'swc',
      user: '',
      port: null,
      identityFile: '',
      jumpHost: '',
      transport: 'ssh',
      sshClient: 'auto'
    });
    expect(dialogs()).toEqual([]);
  });

  it('keeps a name the user typed when an alias is chosen', async () => {
    void open();
    const dialog = await openDialog('select');
    type(field(dialog, 'Name'), 'mine');
    choose(field<HTMLSelectElement>(dialog, 'Host from ~/.ssh/config'), 'swc');
    await until(
      () => field(dialog, 'Host or ~/.ssh/config alias').value === 'swc'
    );
    expect(field(dialog, 'Name').value).toBe('mine');
  });

  it('shows problems inline and stays open until they are fixed', async () => {
    const result = open({ takenNames: ['demo'] });
    const dialog = await openDialog('select');
    const name = field(dialog, 'Name');
    const host = field(dialog, 'Host or ~/.ssh/config alias');
    const port = field(dialog, 'Port');

    // Nothing typed yet: no problem shown, until the user tries to add.
    expect(name.getAttribute('aria-invalid')).toBeNull();
    dialogButton(dialog, 'Add').click();
    await until(() => name.getAttribute('aria-invalid') === 'true');
    expect(noteOf(name)).toBe('Required.');
    expect(noteOf(host)).toBe('Required.');
    expect(document.activeElement).toBe(name);
    expect(dialogs()).toEqual([dialog]);

    type(name, 'demo');
    await until(() => noteOf(name) === 'Another cluster has this name.');
    type(name, 'my cluster');
    await until(() => noteOf(name)?.startsWith('Use up to 64 letters'));
    type(host, 'ana@gpu-login');
    await until(
      () =>
        noteOf(host) === 'Put the user name in the User field, not in the host.'
    );
    type(port, '70000');
    await until(() => noteOf(port) === 'A port between 1 and 65535.');

    // Enter in a field tries to add, too.
    pressEnter(port);
    await new Promise(r => setTimeout(r, 20));
    expect(dialogs()).toEqual([dialog]);

    type(name, 'gpu');
    type(host, 'gpu-login');
    type(port, '2222');
    type(field(dialog, 'User'), 'ana');
    type(field(dialog, 'Jump host (ProxyJump)'), 'gw.example.org');
    await until(() => name.getAttribute('aria-invalid') === null);
    expect(port.getAttribute('aria-invalid')).toBeNull();
    expect(noteOf(port)).toBe("Leave empty for ~/.ssh/config's or 22.");

    pressEnter(port);
    await expect(result).resolves.toEqual({
      name: 'gpu',
      host: 'gpu-login',
      user: 'ana',
      port: 2222,
      identityFile: '',
      jumpHost: 'gw.example.org',
      transport: 'ssh',
      sshClient: 'auto'
    });
  });

  it('shows an error of ~/.ssh/config and still lets the user type a host', async () => {
    const result = open({
      loadHosts: async () => ({
        ...hosts,
        error: {
          code: 'ssh-config',
          message: '~/.ssh/config line 12: "Hostname" needs a value (Hostname).'
        }
      })
    });
    const dialog = await openDialog('select');

    expect(dialog.querySelector('.jp-HpcForm-warning')?.textContent).toBe(
      '~/.ssh/config could not be read completely: ~/.ssh/config line 12: "Hostname" needs a value (Hostname). You can still type a host below.'
    );
    type(field(dialog, 'Name'), 'typed');
    type(field(dialog, 'Host or ~/.ssh/config alias'), 'login.example.org');
    await until(
      () =>
        field(dialog, 'Host or ~/.ssh/config alias').value ===
        'login.example.org'
    );
    dialogButton(dialog, 'Add').click();
    await expect(result).resolves.toMatchObject({
      name: 'typed',
      host: 'login.example.org'
    });
  });

  it('says when the host list cannot be had, and works without it', async () => {
    const hostsAnswer = new PromiseDelegate<ISshHosts>();
    void open({ loadHosts: () => hostsAnswer.promise });
    const dialog = await openDialog('.jp-HpcForm');
    await until(() => dialog.textContent?.includes('Reading ~/.ssh/config…'));

    hostsAnswer.reject(
      new SidecarRequestError(
        'not-running',
        'The sidecar could not be reached (HTTP 502).'
      )
    );

    await until(() => dialog.querySelector('.jp-HpcForm-warning'));
    expect(dialog.querySelector('.jp-HpcForm-warning')?.textContent).toBe(
      'The hosts of ~/.ssh/config are not available (The sidecar could not be reached (HTTP 502).). Type the host below.'
    );
    expect(dialog.querySelector('select[id^="jp-Hpc-alias-"]')).toBeNull();
    expect(field(dialog, 'Host or ~/.ssh/config alias')).toBeTruthy();
  });

  it('hides the SSH fields for a cluster on this computer', async () => {
    const result = open();
    const dialog = await openDialog('select');
    const local = Array.from(
      dialog.querySelectorAll<HTMLInputElement>('input[type="radio"]')
    ).find(r => r.value === 'local')!;
    expect(local.closest('label')?.textContent).toBe('This computer (no SSH)');

    check(local);
    await until(() => dialog.querySelector('select') === null);
    expect(() => field(dialog, 'Port')).toThrow();
    type(field(dialog, 'Name'), 'here');
    type(field(dialog, 'Label'), 'login1');
    await until(() => field(dialog, 'Label').value === 'login1');
    dialogButton(dialog, 'Add').click();

    await expect(result).resolves.toEqual({
      name: 'here',
      host: 'login1',
      transport: 'local'
    });
  });

  it('edits a cluster: filled in, its own name allowed, "Save"', async () => {
    const result = open({
      cluster: {
        name: 'gpu',
        host: 'gpu-login',
        port: 2222,
        user: 'ana',
        identityFile: '',
        jumpHost: '',
        transport: 'ssh'
      },
      takenNames: ['demo']
    });
    const dialog = await openDialog('select');
    expect(dialogTitle(dialog)).toBe('Edit cluster gpu');
    expect(field(dialog, 'Name').value).toBe('gpu');
    expect(field(dialog, 'Port').value).toBe('2222');

    type(field(dialog, 'Port'), '');
    await until(() => field(dialog, 'Port').value === '');
    dialogButton(dialog, 'Save').click();

    await expect(result).resolves.toMatchObject({
      name: 'gpu',
      host: 'gpu-login',
      port: null
    });
  });

  it('chooses the SSH client, and keeps the JupyterLab environment it does not show', async () => {
    const result = open({
      cluster: {
        name: 'gpu',
        host: 'gpu-login',
        transport: 'ssh',
        sshClient: 'builtin',
        jupyterEnvironment: 'lab4'
      },
      takenNames: ['demo']
    });
    const dialog = await openDialog('select');
    const client = field<HTMLSelectElement>(dialog, 'SSH client');
    expect(client.value).toBe('builtin');
    expect(Array.from(client.options).map(o => o.textContent)).toEqual([
      'Automatic',
      'OpenSSH',
      'Built-in'
    ]);

    choose(client, 'openssh');
    await until(
      () => field<HTMLSelectElement>(dialog, 'SSH client').value === 'openssh'
    );
    dialogButton(dialog, 'Save').click();

    await expect(result).resolves.toMatchObject({
      name: 'gpu',
      sshClient: 'openssh',
      jupyterEnvironment: 'lab4'
    });
  });

  it('resolves null when cancelled', async () => {
    const result = open();
    const dialog = await openDialog('select');
    type(field(dialog, 'Name'), 'half-done');
    dialogButton(dialog, 'Cancel').click();
    await expect(result).resolves.toBeNull();
  });
});

describe('confirmRemoveCluster', () => {
  it.each([
    ['Remove', true],
    ['Cancel', false]
  ])('answers %p with %p', async (label, answer) => {
    const confirmed = confirmRemoveCluster('gpu', trans);
    const dialog = await openDialog('.jp-Dialog-body');
    expect(dialogTitle(dialog)).toBe('Remove cluster gpu?');
    expect(dialog.textContent).toContain(
      'This removes gpu from your HPC settings and closes its connection.'
    );
    dialogButton(dialog, label).click();
    await expect(confirmed).resolves.toBe(answer);
  });
});

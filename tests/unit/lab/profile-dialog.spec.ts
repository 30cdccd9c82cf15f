import { Dialog } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';

import {
  IKernelProfile,
  IKernelProfileRequest,
  ILaunchOffer,
  ILaunchRequest,
  IPartition
} from '../../../src/common/api';
import { KernelsModel } from '../../../src/lab/kernels/model';
import { showProfileDialog } from '../../../src/lab/kernels/profile-dialog';
import { SessionsModel } from '../../../src/lab/sessions/model';
import { ClusterSettings } from '../../../src/lab/settings/model';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import { dialogButton, field, noteOf, openDialog, type } from './dom';
import {
  FakeSidecar,
  json,
  PLUGIN_ID,
  settingsWith,
  until,
  whenSignalled
} from './fixtures';
import { ENV, profileInfo } from './kernel-fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

const OFFER = '/api/v1/clusters/demo/launch-offer';
const CHECK = '/api/v1/clusters/demo/launch-check';
const PROFILES = '/api/v1/kernel-profiles';

function partition(more: Partial<IPartition>): IPartition {
  return {
    name: 'debug',
    isDefault: true,
    up: true,
    maxTimeSeconds: 'unlimited',
    defaultTimeSeconds: null,
    nodes: { allocated: 0, idle: 1, other: 0, total: 1 },
    cpusPerNode: { min: 2, max: 2 },
    memoryMiBPerNode: { min: 4000, max: 4000 },
    gres: [],
    features: [],
    allowAccounts: 'all',
    allowQos: 'all',
    maxCpusPerNode: null,
    maxMemMiBPerNode: null,
    ...more
  };
}

const OFFERED: ILaunchOffer = {
  cluster: 'demo',
  user: 'hpcdemo',
  partitions: [
    partition({}),
    partition({
      name: 'gpu',
      isDefault: false,
      maxTimeSeconds: 3600,
      gres: [{ name: 'gpu', type: 'tesla', count: 2 }]
    })
  ],
  accounting: {
    enabled: true,
    reason: null,
    accounts: ['physics'],
    defaultAccount: 'physics',
    qosByAccount: { physics: ['normal'] },
    qosMaxWallSeconds: {}
  },
  fetchedAt: 1_700_000_000_000
};

let fake: FakeSidecar;
let sidecar: SidecarModel;
let sessions: SessionsModel;
let kernels: KernelsModel;
let settings: ClusterSettings;
let check: (request: ILaunchRequest) => unknown;
let save: (request: IKernelProfileRequest) => unknown;

async function setUp(user: object = {}): Promise<void> {
  fake = new FakeSidecar();
  check = () => ({ problems: [] });
  save = request =>
    json(201, profileInfo({ id: 'new00001', ...request } as IKernelProfile));
  fake.on('GET', OFFER, () => OFFERED);
  fake.on('POST', CHECK, body => check(body as ILaunchRequest));
  fake.on('POST', PROFILES, body => save(body as IKernelProfileRequest));
  fake.on('PUT', `${PROFILES}/abcd1234`, body =>
    profileInfo({ ...(body as object), updatedAt: 2_000 } as IKernelProfile)
  );
  fake.on('GET', '/api/v1/sessions', () => ({ sessions: [] }));
  fake.on('GET', PROFILES, () => ({ profiles: [] }));
  fake.on('GET', '/api/v1/kernel-allocations', () => ({ allocations: [] }));
  fake.on('GET', '/api/v1/kernel-starts', () => ({ starts: [] }));
  fake.on('PUT', '/api/v1/visibility', () => ({}));
  const { registry } = await settingsWith({
    clusters: [{ name: 'demo', host: 'hpc-demo' }],
    ...user
  });
  settings = new ClusterSettings();
  settings.attach(await registry.load(PLUGIN_ID));
  sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
  await whenSignalled(
    sidecar.stateChanged,
    () => sidecar.state.status === 'ready'
  );
  sessions = new SessionsModel({
    sidecar,
    serverSettings: fake.serverSettings
  });
  kernels = new KernelsModel({ sidecar, serverSettings: fake.serverSettings });
}

afterEach(() => {
  Dialog.flush();
  kernels?.dispose();
  sessions?.dispose();
  sidecar?.dispose();
  settings?.dispose();
});

const checks = () =>
  fake.requests
    .filter(r => r.method === 'POST' && r.path === CHECK)
    .map(r => r.body as ILaunchRequest);
const saves = () =>
  fake.requests.filter(
    r =>
      (r.method === 'POST' || r.method === 'PUT') && r.path.startsWith(PROFILES)
  );

async function open(profile: IKernelProfile | null = null) {
  const result = showProfileDialog({
    trans,
    cluster: 'demo',
    environment: ENV,
    envName: 'torch',
    profile,
    kernels,
    sessions,
    settings,
    checkDelay: 0
  });
  const dialog = await openDialog('.jp-HpcLaunchForm-partition select');
  await until(() => checks().length > 0);
  return { dialog, result };
}

const input = (dialog: HTMLElement, label: string) =>
  field<HTMLInputElement>(dialog, label);

describe('the cluster kernel profile dialog', () => {
  it("starts from the cluster's job defaults and adds the profile", async () => {
    await setUp({
      jobDefaults: {
        partition: 'gpu',
        timeLimit: '0:30:00',
        cpus: 2,
        memory: '2G',
        gpus: 1,
        workingDirectory: '~/proj'
      }
    });
    const { dialog, result } = await open();
    expect(field<HTMLSelectElement>(dialog, 'Partition').value).toBe('gpu');
    expect(input(dialog, 'Wall time').value).toBe('0:30:00');
    expect(input(dialog, 'CPUs').value).toBe('2');
    expect(input(dialog, 'Memory').value).toBe('2G');
    expect(input(dialog, 'GPUs').value).toBe('1');
    expect(input(dialog, 'Working directory on demo').value).toBe('~/proj');
    // The working directory is said to be on the cluster.
    expect(noteOf(input(dialog, 'Working directory on demo'))).toContain(
      'demo:~/proj'
    );
    // The launch check is asked with the environment of the profile.
    expect(checks()[0]).toMatchObject({
      environment: ENV,
      partition: 'gpu',
      workingDirectory: '~/proj'
    });

    type(input(dialog, 'Name in the kernel picker'), 'Torch on demo');
    const add = dialogButton(dialog, 'Add kernel');
    await until(() => !add.disabled);
    add.click();
    const saved = await result;
    expect(saved?.id).toBe('new00001');
    expect(saves().map(r => r.body)).toEqual([
      {
        cluster: 'demo',
        environment: ENV,
        resources: {
          partition: 'gpu',
          account: '',
          qos: '',
          wallTime: '0:30:00',
          cpus: 2,
          memory: '2G',
          gpus: { type: '', count: 1 },
          constraint: ''
        },
        workingDirectory: '~/proj',
        displayName: 'Torch on demo'
      }
    ]);
  });

  it("shows the check's problems next to their fields, leaving out the launch-only ones", async () => {
    await setUp();
    check = () => ({
      problems: [
        { field: 'wallTime', message: 'At most 1:00:00 on gpu.' },
        { field: 'startTimeoutSeconds', message: 'Not a profile field.' }
      ]
    });
    const { dialog } = await open();
    type(input(dialog, 'Wall time'), '5:00:00');
    await until(() => checks().some(c => c.wallTime === '5:00:00'));
    const add = dialogButton(dialog, 'Add kernel');
    await until(
      () =>
        noteOf(input(dialog, 'Wall time')) === 'At most 1:00:00 on gpu.' &&
        add.disabled
    );
    expect(input(dialog, 'Wall time').getAttribute('aria-invalid')).toBe(
      'true'
    );
    expect(dialog.textContent).not.toContain('Not a profile field.');
  });

  it('shows the problems of a profile-invalid refusal next to their fields and stays open', async () => {
    await setUp();
    save = () =>
      json(400, {
        error: {
          code: 'profile-invalid',
          message: 'Some values are wrong.',
          problems: [
            {
              field: 'workingDirectory',
              message: 'No such directory on demo.'
            },
            { field: 'displayName', message: 'That name is taken.' }
          ]
        }
      });
    const { dialog } = await open();
    const add = dialogButton(dialog, 'Add kernel');
    await until(() => !add.disabled);
    add.click();
    const cwd = input(dialog, 'Working directory on demo');
    await until(() => noteOf(cwd) === 'No such directory on demo.');
    expect(noteOf(input(dialog, 'Name in the kernel picker'))).toBe(
      'That name is taken.'
    );
    expect(add.disabled).toBe(true);
    expect(document.body.contains(dialog)).toBe(true);
    // Editing the field takes its problem away.
    type(cwd, '/scratch/me');
    await until(() => noteOf(cwd) !== 'No such directory on demo.');
  });

  it('edits a profile from its own values, not the defaults, with PUT', async () => {
    await setUp({ jobDefaults: { cpus: 1 } });
    const { dialog, result } = await open(profileInfo());
    expect(input(dialog, 'CPUs').value).toBe('2');
    expect(input(dialog, 'Memory').value).toBe('4G');
    expect(input(dialog, 'Name in the kernel picker').value).toBe(
      'Python [conda env:torch] on demo'
    );
    type(input(dialog, 'CPUs'), '1');
    const button = dialogButton(dialog, 'Save');
    await until(() => checks().some(c => c.cpus === 1) && !button.disabled);
    button.click();
    await result;
    const [put] = saves();
    expect(put.method).toBe('PUT');
    expect((put.body as IKernelProfileRequest).resources.cpus).toBe(1);
  });
});

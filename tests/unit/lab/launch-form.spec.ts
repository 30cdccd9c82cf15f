import { Dialog } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { StateDB } from '@jupyterlab/statedb';
import { nullTranslator } from '@jupyterlab/translation';
import { PromiseDelegate } from '@lumino/coreutils';

import { IEnvironmentList } from '../../../src/common/api';
import {
  ILaunchOffer,
  ILaunchRequest,
  IPartition,
  ISessionInfo
} from '../../../src/common/sessions';
import { EnvironmentsModel } from '../../../src/lab/envs/model';
import { showLaunchDialog } from '../../../src/lab/launch/launch-form';
import { StateLaunchMemory } from '../../../src/lab/launch/memory';
import { SessionsModel } from '../../../src/lab/sessions/model';
import { ClusterSettings } from '../../../src/lab/settings/model';
import { SidecarModel } from '../../../src/lab/sidecar/model';
import { demoList, env } from './env-fixtures';
import {
  choose,
  dialogButton,
  dialogs,
  field,
  noteOf,
  openDialog,
  pressEnter,
  type
} from './dom';
import {
  FakeSidecar,
  json,
  PLUGIN_ID,
  settingsWith,
  until,
  whenSignalled
} from './fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

const OFFER = '/api/v1/clusters/demo/launch-offer';
const CHECK = '/api/v1/clusters/demo/launch-check';
const SESSIONS = '/api/v1/clusters/demo/sessions';
const LAB = '/home/hpcdemo/.local/miniforge/envs/jupyterlab';

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
    gres: [{ name: 'gpu', type: 'tesla', count: 2 }],
    features: [],
    allowAccounts: 'all',
    allowQos: 'all',
    maxCpusPerNode: null,
    maxMemMiBPerNode: null,
    ...more
  };
}

/** The demo cluster's offer: debug (default) and gpu (1 hour), accounting on. */
function demoOffer(more: Partial<ILaunchOffer> = {}): ILaunchOffer {
  return {
    cluster: 'demo',
    user: 'hpcdemo',
    partitions: [
      partition({}),
      partition({
        name: 'gpu',
        isDefault: false,
        maxTimeSeconds: 3600,
        features: ['fast', 'ib']
      }),
      partition({ name: 'cpu', isDefault: false, gres: [] })
    ],
    accounting: {
      enabled: true,
      reason: null,
      accounts: ['physics', 'chemistry'],
      defaultAccount: 'physics',
      qosByAccount: { physics: ['normal', 'short'], chemistry: ['normal'] },
      qosMaxWallSeconds: { short: 1800 }
    },
    fetchedAt: 1_700_000_000_000,
    ...more
  };
}

function sessionFor(request: ILaunchRequest): ISessionInfo {
  return {
    id: 's1',
    cluster: 'demo',
    phase: 'submitting',
    request,
    createdAt: 1,
    jobId: null,
    jobState: null,
    reason: null,
    startTime: null,
    node: null,
    timeLeftSeconds: null,
    observedAt: null,
    localPort: null,
    portMoved: null,
    schedulerUnreachable: false,
    end: null,
    origin: null,
    attached: false
  };
}

let fake: FakeSidecar;
let sidecar: SidecarModel;
let sessions: SessionsModel;
let envs: EnvironmentsModel;
let settings: ClusterSettings;
let registrySettings: ISettingRegistry.ISettings;
let state: StateDB;
let memory: StateLaunchMemory;
let offer: ILaunchOffer;
let envList: IEnvironmentList;
/** What launch-check answers for a request. */
let check: (request: ILaunchRequest) => unknown;
let launch: (request: ILaunchRequest) => unknown;

async function setUp(user: object = {}): Promise<void> {
  fake = new FakeSidecar();
  offer = demoOffer();
  envList = demoList();
  check = () => ({ problems: [] });
  launch = request => json(201, sessionFor(request));
  fake.on('GET', OFFER, () => offer);
  fake.on('POST', CHECK, body => check(body as ILaunchRequest));
  fake.on('POST', SESSIONS, body => launch(body as ILaunchRequest));
  fake.on('GET', '/api/v1/sessions', () => ({ sessions: [] }));
  fake.on('GET', '/api/v1/clusters/demo/envs', () => envList);
  fake.on('GET', '/api/v1/tasks', () => []);
  fake.on('PUT', '/api/v1/visibility', () => ({}));
  const { registry } = await settingsWith({
    clusters: [{ name: 'demo', host: 'hpc-demo' }],
    ...user
  });
  registrySettings = await registry.load(PLUGIN_ID);
  settings = new ClusterSettings();
  settings.attach(registrySettings);
  sidecar = new SidecarModel({ serverSettings: fake.serverSettings });
  await whenSignalled(
    sidecar.stateChanged,
    () => sidecar.state.status === 'ready'
  );
  sessions = new SessionsModel({
    sidecar,
    serverSettings: fake.serverSettings
  });
  envs = new EnvironmentsModel({
    sidecar,
    settings,
    serverSettings: fake.serverSettings
  });
  state = new StateDB();
  memory = new StateLaunchMemory(state);
}

afterEach(() => {
  Dialog.flush();
  envs?.dispose();
  sessions?.dispose();
  sidecar?.dispose();
  settings?.dispose();
});

/** Open the form and wait until its fields are there and checked once. */
async function openForm(): Promise<{
  dialog: HTMLElement;
  result: Promise<ISessionInfo | null>;
}> {
  const result = showLaunchDialog({
    trans,
    cluster: 'demo',
    sessions,
    settings,
    envs,
    memory,
    checkDelay: 0
  });
  const dialog = await openDialog('.jp-HpcLaunchForm-partition select');
  await until(() => checks().length > 0);
  return { dialog, result };
}

const checks = () =>
  fake.requests
    .filter(r => r.method === 'POST' && r.path === CHECK)
    .map(r => r.body as ILaunchRequest);
const launches = () =>
  fake.requests
    .filter(r => r.method === 'POST' && r.path === SESSIONS)
    .map(r => r.body as ILaunchRequest);
const lastCheck = () => checks()[checks().length - 1];

const input = (dialog: HTMLElement, label: string) =>
  field<HTMLInputElement>(dialog, label);
const select = (dialog: HTMLElement, label: string) =>
  field<HTMLSelectElement>(dialog, label);
const launchButton = (dialog: HTMLElement) => dialogButton(dialog, 'Launch');

/** Wait until the form checked a request with `change` in it. */
async function checked(change: Partial<ILaunchRequest>): Promise<void> {
  await until(() => {
    const last = lastCheck();
    return (
      last &&
      Object.entries(change).every(
        ([k, v]) =>
          JSON.stringify(last[k as keyof ILaunchRequest]) === JSON.stringify(v)
      )
    );
  });
}

describe('the launch form', () => {
  describe('defaults', () => {
    it("takes the offer's defaults where the settings say nothing", async () => {
      await setUp();
      const { dialog } = await openForm();
      expect(select(dialog, 'Partition').value).toBe('debug');
      expect(select(dialog, 'Account').value).toBe('');
      expect(select(dialog, 'Account').selectedOptions[0].textContent).toBe(
        'Your default (physics)'
      );
      expect(input(dialog, 'Wall time').value).toBe('02:00:00');
      expect(input(dialog, 'CPUs').value).toBe('2');
      expect(input(dialog, 'Memory').value).toBe('8G');
      expect(input(dialog, 'Start time-out (seconds)').value).toBe('300');
      // The settings' env name, resolved to its prefix among discovered envs.
      expect(select(dialog, 'JupyterLab environment').value).toBe(LAB);
      expect(lastCheck()).toEqual({
        partition: 'debug',
        account: '',
        qos: '',
        wallTime: '02:00:00',
        cpus: 2,
        memory: '8G',
        gpus: { type: '', count: 0 },
        constraint: '',
        environment: LAB,
        workingDirectory: '',
        startTimeoutSeconds: 300
      });
    });

    it('takes the job defaults of the settings over the offer', async () => {
      await setUp({
        jobDefaults: {
          partition: 'gpu',
          account: 'chemistry',
          timeLimit: '00:45:00',
          cpus: 1,
          memory: '2G',
          gpus: 1,
          gpuType: 'tesla',
          constraint: 'fast',
          workingDirectory: '~/work',
          startTimeout: 120,
          jupyterEnvironment: 'jupyterlab'
        }
      });
      const { dialog } = await openForm();
      expect(select(dialog, 'Partition').value).toBe('gpu');
      expect(select(dialog, 'Account').value).toBe('chemistry');
      expect(select(dialog, 'GPU type').value).toBe('tesla');
      expect(lastCheck()).toMatchObject({
        partition: 'gpu',
        account: 'chemistry',
        wallTime: '00:45:00',
        cpus: 1,
        memory: '2G',
        gpus: { type: 'tesla', count: 1 },
        constraint: 'fast',
        workingDirectory: '~/work',
        startTimeoutSeconds: 120
      });
    });

    it('takes the last choices for the cluster over the settings', async () => {
      await setUp({ jobDefaults: { partition: 'gpu', cpus: 1 } });
      const remembered: ILaunchRequest = {
        partition: 'cpu',
        account: 'physics',
        qos: 'short',
        wallTime: '00:20:00',
        cpus: 2,
        memory: '1G',
        gpus: { type: '', count: 0 },
        constraint: '',
        environment: LAB,
        workingDirectory: '/scratch/me',
        startTimeoutSeconds: 90
      };
      await memory.remember('demo', remembered);
      const { dialog } = await openForm();
      expect(select(dialog, 'Partition').value).toBe('cpu');
      expect(select(dialog, 'QOS').value).toBe('short');
      expect(lastCheck()).toEqual(remembered);
      // The cpu partition has no GPUs: no GPU fields, and it says so.
      expect(() => input(dialog, 'GPUs')).toThrow();
      expect(dialog.textContent).toContain('The cpu partition has no GPUs.');
    });

    it("falls back to the offer's default for what the cluster does not have", async () => {
      await setUp({
        jobDefaults: { partition: 'bigmem', account: 'biology', qos: 'long' }
      });
      const { dialog } = await openForm();
      expect(lastCheck()).toMatchObject({
        partition: 'debug',
        account: '',
        qos: ''
      });
      expect(select(dialog, 'Partition').value).toBe('debug');
    });

    it("takes the cluster's own JupyterLab environment over the job defaults", async () => {
      await setUp({
        clusters: [
          {
            name: 'demo',
            host: 'hpc-demo',
            jupyterEnvironment: '/home/hpcdemo/projects/scratch-env'
          }
        ]
      });
      envList = demoList({
        envs: [
          ...demoList().envs.filter(e => e.name !== 'scratch-env'),
          env('scratch-env', {
            kind: 'prefix',
            prefix: '/home/hpcdemo/projects/scratch-env',
            jupyterlabVersion: '4.2.5'
          })
        ]
      });
      const { dialog } = await openForm();
      expect(select(dialog, 'JupyterLab environment').value).toBe(
        '/home/hpcdemo/projects/scratch-env'
      );
    });
  });

  describe('partitions and accounting', () => {
    it('describes each partition: limit, nodes, CPUs, memory, GRES', async () => {
      await setUp();
      const { dialog } = await openForm();
      const options = Array.from(select(dialog, 'Partition').options).map(
        o => o.textContent
      );
      expect(options).toEqual([
        'debug (default) — max no limit · 1/1 nodes idle · 2 CPUs, 3.9 GiB per node · gpu:tesla:2',
        'gpu — max 1:00:00 · 1/1 nodes idle · 2 CPUs, 3.9 GiB per node · gpu:tesla:2',
        'cpu — max no limit · 1/1 nodes idle · 2 CPUs, 3.9 GiB per node'
      ]);
      choose(select(dialog, 'Partition'), 'gpu');
      await checked({ partition: 'gpu' });
      await says(
        () => input(dialog, 'Wall time'),
        'The gpu partition allows 1:00:00.'
      );
      await says(
        () => input(dialog, 'Constraint'),
        'Features on gpu: fast, ib.'
      );
    });

    it('lists the QOS of the chosen account, and drops one it cannot use', async () => {
      await setUp();
      const { dialog } = await openForm();
      const qosValues = () =>
        Array.from(select(dialog, 'QOS').options).map(o => o.value);
      expect(qosValues()).toEqual(['', 'normal', 'short']);
      expect(
        Array.from(select(dialog, 'QOS').options).map(o => o.textContent)
      ).toContain('short (at most 0:30:00)');
      choose(select(dialog, 'QOS'), 'short');
      await checked({ qos: 'short' });
      choose(select(dialog, 'Account'), 'chemistry');
      await checked({ account: 'chemistry', qos: '' });
      expect(qosValues()).toEqual(['', 'normal']);
    });

    it('takes free text for account and QOS without accounting, and says why', async () => {
      await setUp();
      offer = demoOffer({
        accounting: {
          enabled: false,
          reason: 'sacctmgr: accounting storage is disabled',
          accounts: [],
          defaultAccount: null,
          qosByAccount: {},
          qosMaxWallSeconds: {}
        }
      });
      const { dialog } = await openForm();
      expect(dialog.textContent).toContain(
        'This cluster reports no Slurm accounting (sacctmgr: accounting storage is disabled)'
      );
      const account = input(dialog, 'Account');
      expect(account.tagName).toBe('INPUT');
      type(account, 'proj-42');
      type(input(dialog, 'QOS'), 'long');
      await checked({ account: 'proj-42', qos: 'long' });
    });

    it('notes next to account and QOS that a cluster without accounting cannot check them, and still launches', async () => {
      await setUp();
      offer = demoOffer({
        accounting: {
          enabled: false,
          reason: 'sacctmgr: accounting storage is disabled',
          accounts: [],
          defaultAccount: null,
          qosByAccount: {},
          qosMaxWallSeconds: {}
        }
      });
      // As the sidecar's uncheckedFields answers.
      check = request => ({
        problems: [],
        unchecked: [
          ...(request.account
            ? [
                {
                  field: 'account',
                  message: `Not checked: the job is labelled ${request.account} as given.`
                }
              ]
            : []),
          ...(request.qos
            ? [
                {
                  field: 'qos',
                  message: `Not checked: Slurm accepts ${request.qos} and ignores it.`
                }
              ]
            : [])
        ]
      });
      const { dialog } = await openForm();
      const account = () => input(dialog, 'Account');
      const qos = () => input(dialog, 'QOS');
      expect(noteOf(account())).toBeNull();

      type(account(), 'proj-42');
      await says(account, 'Not checked: the job is labelled proj-42 as given.');
      expect(noteOf(qos())).toBeNull();
      type(qos(), 'long');
      await says(qos, 'Not checked: Slurm accepts long and ignores it.');
      // A note, not a problem: the fields are valid and Launch stays on.
      expect(account().getAttribute('aria-invalid')).toBeNull();
      expect(qos().getAttribute('aria-invalid')).toBeNull();
      const note = document.getElementById(
        qos().getAttribute('aria-describedby')!
      )!;
      expect(note.className).toContain('jp-HpcForm-hint');
      expect(launchButton(dialog).disabled).toBe(false);

      // Emptied, the value is the user's default again: nothing to note.
      type(qos(), '');
      await until(() => noteOf(qos()) === null);
      expect(noteOf(account())).toContain('proj-42');

      launchButton(dialog).click();
      await until(() => launches().length === 1);
      expect(launches()[0]).toMatchObject({ account: 'proj-42', qos: '' });
    });
  });

  describe('checks', () => {
    it('shows each problem of the check next to its field and disables Launch', async () => {
      await setUp();
      check = request =>
        request.wallTime === '2:00:00' && request.partition === 'gpu'
          ? {
              problems: [
                {
                  field: 'wallTime',
                  message: 'The gpu partition allows at most 1:00:00.'
                },
                { field: 'gpus.type', message: 'No such GPU type.' }
              ]
            }
          : { problems: [] };
      const { dialog } = await openForm();
      expect(launchButton(dialog).disabled).toBe(false);

      choose(select(dialog, 'Partition'), 'gpu');
      type(input(dialog, 'Wall time'), '2:00:00');
      await until(() => launchButton(dialog).disabled);
      await says(
        () => input(dialog, 'Wall time'),
        'The gpu partition allows at most 1:00:00.'
      );
      expect(input(dialog, 'Wall time').getAttribute('aria-invalid')).toBe(
        'true'
      );
      await says(() => select(dialog, 'GPU type'), 'No such GPU type.');
      // Other fields keep their hints.
      expect(input(dialog, 'CPUs').getAttribute('aria-invalid')).toBeNull();

      // Clicking the disabled button launches nothing.
      launchButton(dialog).click();
      type(input(dialog, 'Wall time'), '0:30:00');
      await until(() => !launchButton(dialog).disabled);
      await says(() => input(dialog, 'Wall time'), 'e.g. 2:00:00');
      expect(launches()).toEqual([]);
    });

    it('checks only the latest values when edits come fast', async () => {
      await setUp();
      const { dialog } = await openForm();
      const before = checks().length;
      const cpus = input(dialog, 'CPUs');
      for (const value of ['1', '12', '1']) {
        type(cpus, value);
      }
      await checked({ cpus: 1 });
      await new Promise(r => setTimeout(r, 20));
      expect(
        checks()
          .slice(before)
          .map(r => r.cpus)
      ).toEqual([1]);
    });

    it('says a number field needs a number without asking the sidecar', async () => {
      await setUp();
      const { dialog } = await openForm();
      type(input(dialog, 'CPUs'), 'two');
      await until(
        () => noteOf(input(dialog, 'CPUs')) === 'CPUs must be a whole number.'
      );
      expect(launchButton(dialog).disabled).toBe(true);
      expect(checks().every(r => typeof r.cpus === 'number')).toBe(true);
    });
  });

  describe('environments', () => {
    it('shows envs without JupyterLab disabled, with the command that fixes them', async () => {
      await setUp();
      const { dialog } = await openForm();
      const options = Array.from(
        select(dialog, 'JupyterLab environment').options
      );
      const analysis = options.find(o => o.value.endsWith('/envs/analysis'))!;
      expect(analysis.disabled).toBe(true);
      expect(analysis.textContent).toBe('analysis — no JupyterLab');
      expect(options.find(o => o.value === LAB)!.disabled).toBe(false);
      const details = dialog.querySelector('.jp-HpcLaunchForm-without')!;
      expect(details.textContent).toContain(
        '4 environments have no JupyterLab'
      );
      // The demo has no conda: the env's own pip.
      expect(details.textContent).toContain(
        '/home/hpcdemo/.local/miniforge/envs/analysis/bin/python -m pip install jupyterlab'
      );
    });

    it('refuses a remembered env without JupyterLab, with the fix next to it', async () => {
      await setUp();
      await memory.remember('demo', {
        ...demoRequest(),
        environment: '/home/hpcdemo/.local/miniforge/envs/my-project-env'
      });
      const { dialog } = await openForm();
      const envSelect = select(dialog, 'JupyterLab environment');
      expect(envSelect.value).toBe(
        '/home/hpcdemo/.local/miniforge/envs/my-project-env'
      );
      await says(
        () => select(dialog, 'JupyterLab environment'),
        'my-project-env has no JupyterLab. Install it on demo: /home/hpcdemo/.local/miniforge/envs/my-project-env/bin/python -m pip install jupyterlab'
      );
      expect(launchButton(dialog).disabled).toBe(true);
      choose(envSelect, LAB);
      await until(() => !launchButton(dialog).disabled);
    });
  });

  describe('submitting', () => {
    it('launches the values, closes and resolves with the session', async () => {
      await setUp();
      const { dialog, result } = await openForm();
      type(input(dialog, 'Working directory'), '/scratch/hpcdemo');
      await checked({ workingDirectory: '/scratch/hpcdemo' });
      launchButton(dialog).click();
      const session = await result;
      expect(session?.id).toBe('s1');
      expect(launches()).toEqual([
        expect.objectContaining({ workingDirectory: '/scratch/hpcdemo' })
      ]);
      expect(dialogs()).toEqual([]);
    });

    it('submits once however often Launch is pressed meanwhile', async () => {
      await setUp();
      const answered = new PromiseDelegate<void>();
      launch = async request => {
        await answered.promise;
        return json(201, sessionFor(request));
      };
      const { dialog, result } = await openForm();
      launchButton(dialog).click();
      await until(() => launches().length === 1);
      await until(() => launchButton(dialog).disabled);
      launchButton(dialog).click();
      pressEnter(input(dialog, 'CPUs'));
      answered.resolve();
      expect((await result)?.id).toBe('s1');
      expect(launches()).toHaveLength(1);
    });

    it('reads the cluster again on request and keeps what was typed', async () => {
      await setUp();
      const { dialog } = await openForm();
      type(input(dialog, 'CPUs'), '1');
      await checked({ cpus: 1 });
      offer = demoOffer({
        partitions: [
          ...demoOffer().partitions,
          partition({ name: 'new', isDefault: false })
        ]
      });
      buttonIn(dialog, 'Read again').click();
      await until(() =>
        Array.from(select(dialog, 'Partition').options).some(
          o => o.value === 'new'
        )
      );
      expect(
        fake.requests.filter(r => r.path === OFFER).map(r => r.search)
      ).toEqual(['', '?refresh=1']);
      expect(input(dialog, 'CPUs').value).toBe('1');
    });

    it('puts the problems of a refused launch next to their fields and stays open', async () => {
      await setUp();
      launch = () =>
        json(400, {
          error: {
            code: 'launch-invalid',
            message: 'You have no account physics for the gpu partition.',
            problems: [
              {
                field: 'account',
                message: 'You have no account physics for the gpu partition.'
              }
            ]
          }
        });
      const { dialog } = await openForm();
      choose(select(dialog, 'Account'), 'physics');
      await checked({ account: 'physics' });
      launchButton(dialog).click();
      await until(() =>
        noteOf(select(dialog, 'Account'))?.includes('no account')
      );
      expect(dialogs()).toHaveLength(1);
      expect(select(dialog, 'Account').value).toBe('physics');
      expect(launchButton(dialog).disabled).toBe(true);
    });

    it("shows the scheduler's refusal as it is, and keeps every value", async () => {
      await setUp();
      const words =
        'sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified';
      launch = () =>
        json(422, { error: { code: 'sbatch-refused', message: words } });
      const { dialog } = await openForm();
      type(input(dialog, 'Constraint'), 'fast');
      await checked({ constraint: 'fast' });
      launchButton(dialog).click();
      const alert = await until(() =>
        dialog.querySelector('.jp-HpcLaunchForm-refusal')
      );
      expect(alert.getAttribute('role')).toBe('alert');
      expect(alert.querySelector('pre')!.textContent).toBe(words);
      expect(dialogs()).toHaveLength(1);
      expect(input(dialog, 'Constraint').value).toBe('fast');
      // Launch again once the user changed something.
      expect(launchButton(dialog).disabled).toBe(false);
    });

    it.each([
      ['a command substitution', '$(touch /tmp/pwned)'],
      ['backticks and quotes', '`id`;\'"'],
      ['a very long value', 'x'.repeat(10_000)],
      ['unicode', 'проект-🚀']
    ])(
      'sends %s as it is, and shows the refusal without breaking',
      async (_, hostile) => {
        await setUp();
        check = request =>
          request.constraint === hostile
            ? {
                problems: [
                  {
                    field: 'constraint',
                    message:
                      'A constraint is feature names joined by & | and , (no spaces).'
                  },
                  {
                    field: 'workingDirectory',
                    message: 'A path cannot contain control characters.'
                  }
                ]
              }
            : { problems: [] };
        const { dialog } = await openForm();
        type(input(dialog, 'Constraint'), hostile);
        type(input(dialog, 'Working directory'), hostile);
        await checked({ constraint: hostile, workingDirectory: hostile });
        await until(() => launchButton(dialog).disabled);
        await says(() => input(dialog, 'Constraint'), 'feature names');
        expect(input(dialog, 'Constraint').value).toBe(hostile);
        expect(lastCheck().constraint).toBe(hostile);
        expect(launches()).toEqual([]);
      }
    );

    it('sends a remembered value with a newline as it is, and shows the problem', async () => {
      // A text input cannot hold a newline; remembered choices can.
      await setUp();
      const hostile = '/tmp/$(touch /tmp/pwned)\nrm -rf ~';
      check = request =>
        request.workingDirectory === hostile
          ? {
              problems: [
                {
                  field: 'workingDirectory',
                  message: 'A path cannot contain control characters.'
                }
              ]
            }
          : { problems: [] };
      await memory.remember('demo', {
        ...demoRequest(),
        workingDirectory: hostile
      });
      const { dialog } = await openForm();
      expect(lastCheck().workingDirectory).toBe(hostile);
      await until(
        () =>
          noteOf(input(dialog, 'Working directory')) ===
          'A path cannot contain control characters.'
      );
      expect(launchButton(dialog).disabled).toBe(true);
    });

    it('sends a hostile value the check let through as it is, and shows the refusal', async () => {
      await setUp();
      const hostile = '/tmp/$(touch /tmp/pwned); rm -rf ~';
      launch = request =>
        json(400, {
          error: {
            code: 'launch-invalid',
            message: 'bad',
            problems: [
              {
                field: 'workingDirectory',
                message: `No such directory: ${request.workingDirectory}`
              }
            ]
          }
        });
      const { dialog } = await openForm();
      type(input(dialog, 'Working directory'), hostile);
      await checked({ workingDirectory: hostile });
      launchButton(dialog).click();
      await until(() =>
        noteOf(input(dialog, 'Working directory'))?.startsWith(
          'No such directory'
        )
      );
      expect(launches()[0].workingDirectory).toBe(hostile);
      expect(noteOf(input(dialog, 'Working directory'))).toBe(
        `No such directory: ${hostile}`
      );
    });
  });

  describe('presets', () => {
    it('saves the values under a name in the settings and applies them later', async () => {
      await setUp();
      const first = await openForm();
      let dialog = first.dialog;
      choose(select(dialog, 'Partition'), 'gpu');
      type(input(dialog, 'Wall time'), '0:50:00');
      type(input(dialog, 'GPUs'), '1');
      await checked({ partition: 'gpu', wallTime: '0:50:00' });
      buttonIn(dialog, 'Save as preset…').click();
      type(await until(() => tryInput(dialog, 'Preset name')), 'gpu short');
      buttonIn(dialog, 'Save preset').click();
      await until(() => settings.sessionPresets.length === 1);
      expect(registrySettings.user.sessionPresets).toEqual([
        {
          name: 'gpu short',
          cluster: 'demo',
          partition: 'gpu',
          timeLimit: '0:50:00',
          cpus: 2,
          memory: '8G',
          gpus: 1,
          jupyterEnvironment: LAB,
          startTimeout: 300
        }
      ]);
      dialogButton(dialog, 'Cancel').click();
      await until(() => dialogs().length === 0);

      const second = await openForm();
      dialog = second.dialog;
      expect(select(dialog, 'Partition').value).toBe('debug');
      choose(select(dialog, 'Preset'), 'gpu short');
      await checked({
        partition: 'gpu',
        wallTime: '0:50:00',
        gpus: { type: '', count: 1 }
      });
      expect(select(dialog, 'Partition').value).toBe('gpu');
    });

    it('offers presets of this cluster and of every cluster only', async () => {
      await setUp({
        sessionPresets: [
          { name: 'mine', cluster: 'demo', cpus: 1 },
          { name: 'elsewhere', cluster: 'archer2', cpus: 8 },
          { name: 'anywhere', memory: '1G' }
        ]
      });
      const { dialog } = await openForm();
      expect(
        Array.from(select(dialog, 'Preset').options).map(o => o.textContent)
      ).toEqual(['Choose a preset…', 'mine', 'anywhere (every cluster)']);
      choose(select(dialog, 'Preset'), 'anywhere');
      await checked({ memory: '1G', cpus: 2 });
    });

    it('refuses a preset name the settings would not take', async () => {
      await setUp();
      const { dialog } = await openForm();
      buttonIn(dialog, 'Save as preset…').click();
      const name = await until(() => tryInput(dialog, 'Preset name'));
      type(name, 'x'.repeat(65));
      buttonIn(dialog, 'Save preset').click();
      await until(() => name.getAttribute('aria-invalid') === 'true');
      expect(noteOf(name)).toContain('1 to 64 characters');
      expect(settings.sessionPresets).toEqual([]);
    });
  });
});

/** Wait until the note of a field (as rendered) contains `text`. */
async function says(element: () => HTMLElement, text: string): Promise<void> {
  try {
    await until(() => noteOf(element())?.includes(text));
  } catch {
    expect(noteOf(element())).toContain(text);
  }
}

function demoRequest(): ILaunchRequest {
  return {
    partition: 'debug',
    account: '',
    qos: '',
    wallTime: '1:00:00',
    cpus: 1,
    memory: '',
    gpus: { type: '', count: 0 },
    constraint: '',
    environment: LAB,
    workingDirectory: '',
    startTimeoutSeconds: 300
  };
}

function buttonIn(root: HTMLElement, label: string): HTMLButtonElement {
  const found = Array.from(root.querySelectorAll('button')).find(
    b => b.textContent === label
  );
  if (!found) {
    throw new Error(`no button "${label}"`);
  }
  return found;
}

function tryInput(root: HTMLElement, label: string): HTMLInputElement | null {
  try {
    return field<HTMLInputElement>(root, label);
  } catch {
    return null;
  }
}

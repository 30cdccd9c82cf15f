import { nullTranslator } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';

import { ILaunchRequest, ISessionInfo } from '../../../src/common/sessions';
import { IClusterConfig } from '../../../src/common/settings';
import { addLaunchCommand } from '../../../src/lab/commands/sessions-launch';
import { ILaunchFormOptions } from '../../../src/lab/launch/launch-form';
import { ILaunchMemory } from '../../../src/lab/launch/memory';
import { ISessionsModel } from '../../../src/lab/sessions/model';
import { IClusterSettings } from '../../../src/lab/settings/model';
import { CommandIDs } from '../../../src/lab/tokens';

const request = { partition: 'gpu', cpus: 1 } as ILaunchRequest;
const session = {
  id: 's1',
  cluster: 'demo',
  request
} as ISessionInfo;

let commands: CommandRegistry;
let sessions: { available: boolean };
let remembered: [string, ILaunchRequest][];
let revealed: ISessionInfo[];
let forms: ILaunchFormOptions[];
let answer: ISessionInfo | null;

beforeEach(() => {
  commands = new CommandRegistry();
  sessions = { available: true };
  remembered = [];
  revealed = [];
  forms = [];
  answer = session;
  const clusters: IClusterConfig[] = [
    { name: 'demo', host: 'hpc-demo' },
    { name: 'swc', host: 'hpc-gw1' }
  ];
  const memory: ILaunchMemory = {
    recall: async () => null,
    remember: async (cluster, req) => {
      remembered.push([cluster, req]);
    }
  };
  addLaunchCommand({
    commands,
    trans: nullTranslator.load('jupyterlab_hpc'),
    settings: {
      clusters,
      changed: new Signal<object, void>({})
    } as unknown as IClusterSettings,
    sessions: sessions as unknown as ISessionsModel,
    envs: null,
    memory,
    reveal: s => revealed.push(s),
    showForm: async options => {
      forms.push(options);
      return answer;
    }
  });
});

describe('the launch command', () => {
  it('is "JupyterLab on <cluster>" with a caption and an icon', () => {
    const args = { name: 'demo', isLauncher: true };
    expect(commands.label(CommandIDs.launchSession, args)).toBe(
      'JupyterLab on demo'
    );
    expect(commands.caption(CommandIDs.launchSession, args)).toContain(
      'SLURM job on demo'
    );
    expect(commands.icon(CommandIDs.launchSession, args)).toBeDefined();
    expect(
      commands.label(CommandIDs.launchSession, { isContextMenu: true })
    ).toBe('Launch JupyterLab…');
  });

  it('is enabled for a known cluster while the sidecar is there', () => {
    expect(commands.isEnabled(CommandIDs.launchSession, { name: 'demo' })).toBe(
      true
    );
    expect(
      commands.isEnabled(CommandIDs.launchSession, { name: 'nowhere' })
    ).toBe(false);
    sessions.available = false;
    expect(commands.isEnabled(CommandIDs.launchSession, { name: 'demo' })).toBe(
      false
    );
  });

  it('opens the form for the cluster, then remembers the choices and reveals the session', async () => {
    const result = await commands.execute(CommandIDs.launchSession, {
      name: 'demo'
    });
    expect(forms.map(f => f.cluster)).toEqual(['demo']);
    expect(result).toBe(session);
    expect(remembered).toEqual([['demo', request]]);
    expect(revealed).toEqual([session]);
  });

  it('remembers nothing when the form is closed without launching', async () => {
    answer = null;
    const result = await commands.execute(CommandIDs.launchSession, {
      name: 'swc'
    });
    expect(forms.map(f => f.cluster)).toEqual(['swc']);
    expect(result).toBeNull();
    expect(remembered).toEqual([]);
    expect(revealed).toEqual([]);
  });
});

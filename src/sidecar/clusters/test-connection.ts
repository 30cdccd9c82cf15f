import type { IConnectionTest } from '../../common/api';
import { condaTools } from '../conda/build';
import { collectCommand } from '../conda/collect-script';
import { FactsError, parseFacts } from '../conda/facts';
import type { ICommandOutput, IRemoteCommand } from '../shell/remote-command';
import testConnectionSh from './test-connection.sh';

/** Host name, login shell and SLURM version, as `key=value` lines. */
export const TEST_SCRIPT = testConnectionSh;

export type ITestFindings = Pick<
  IConnectionTest,
  'slurmVersion' | 'tools' | 'toolsOnPath' | 'remoteHost' | 'shell'
>;

/**
 * What "Test connection" reports of the login environment. conda, mamba and
 * micromamba are looked for as the environment scan looks for them (PATH,
 * $CONDA_EXE, $MAMBA_EXE and the install roots it knows, such as the
 * tutorial's ~/.local/miniforge before `conda init`), so the two never
 * disagree about whether the cluster has conda.
 */
export async function probeLoginEnvironment(
  run: (command: IRemoteCommand) => Promise<ICommandOutput>
): Promise<ITestFindings> {
  const login = await run({
    argv: ['/bin/sh', '-c', TEST_SCRIPT],
    timeoutSeconds: 30
  });
  const scan = await run({
    ...collectCommand({ toolsOnly: true }),
    timeoutSeconds: 30
  });
  let tools: Pick<ITestFindings, 'tools' | 'toolsOnPath'>;
  try {
    tools = condaTools(parseFacts(scan.stdout));
  } catch (err) {
    if (!(err instanceof FactsError)) {
      throw err;
    }
    // A cut-short answer: the test still reports the rest.
    tools = condaTools(null);
  }
  return { ...parseTestOutput(login.stdout.toString('utf8')), ...tools };
}

/** Read TEST_SCRIPT's output. */
export function parseTestOutput(
  stdout: string
): Omit<ITestFindings, 'tools' | 'toolsOnPath'> {
  const found = {
    slurmVersion: null as string | null,
    remoteHost: '',
    shell: ''
  };
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at < 0) {
      continue;
    }
    const key = line.slice(0, at);
    const value = line.slice(at + 1).trim();
    switch (key) {
      case 'host':
        found.remoteHost = value;
        break;
      case 'shell':
        found.shell = value;
        break;
      case 'slurm':
        found.slurmVersion = value || null;
        break;
    }
  }
  return found;
}

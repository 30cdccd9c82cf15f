/**
 * The sh program the OpenSSH master runs under: it must pass ssh's exit
 * status on, and end ssh when the sidecar's pipe closes, in every POSIX sh
 * a laptop may have as /bin/sh.
 */
import { spawn, spawnSync } from 'child_process';

import { WATCHDOG_SCRIPT } from '../../../src/sidecar/ssh/openssh/master';
import { skipMissing } from '../../support/skip';

const installed = (sh: string) =>
  spawnSync('sh', ['-c', `command -v ${sh}`]).status === 0;
const SHELLS = ['dash', 'bash'].filter(installed);
skipMissing(
  'the master watchdog under',
  ['dash', 'bash'].filter(sh => !installed(sh))
);

function run(
  shell: string,
  argv: string[],
  closeStdinAfterMs: number | null
): Promise<{ status: number | null; stderr: string; ms: number }> {
  return new Promise(resolve => {
    const started = Date.now();
    const child = spawn(shell, ['-c', WATCHDOG_SCRIPT, 'jlhpc-ssh', ...argv], {
      stdio: ['pipe', 'ignore', 'pipe']
    });
    let stderr = '';
    child.stderr.on('data', d => (stderr += d));
    if (closeStdinAfterMs !== null) {
      setTimeout(() => child.stdin.end(), closeStdinAfterMs);
    }
    child.on('close', status =>
      resolve({ status, stderr, ms: Date.now() - started })
    );
  });
}

describe.each(SHELLS)('the master watchdog under %s', shell => {
  it('passes on the exit status and the words of the program', async () => {
    const r = await run(shell, ['sh', '-c', 'echo said >&2; exit 7'], null);
    expect(r.status).toBe(7);
    expect(r.stderr).toBe('said\n');
  });

  it('ends the program once its stdin (the sidecar) is gone, and says nothing of it', async () => {
    const r = await run(shell, ['sleep', '30'], 200);
    expect(r.status).toBe(143);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.stderr).toBe('');
  });

  it('gives the program no stdin of ours', async () => {
    const r = await run(shell, ['sh', '-c', 'cat; echo "eof $?" >&2'], null);
    expect(r.stderr).toBe('eof 0\n');
  });
});

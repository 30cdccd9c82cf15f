/**
 * The demo cluster is a real part every later feature is tested against:
 * OpenSSH with verified host keys, SLURM that runs batch jobs, and a home
 * laid out like a researcher's with conda-layout environments.
 * scripts/test.sh starts it (tests/cluster/demo-cluster.sh start).
 */
import { execFileSync, spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import { waitFor } from '../support/proc';
import { demoCluster } from '../support/demo-cluster';

const info = demoCluster();

/** Run a command on the login node, as the tutorial does: `ssh hpc-demo …`. */
function ssh(command: string, extra: string[] = []): string {
  return execFileSync(
    'ssh',
    [
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=10',
      ...extra,
      info.alias,
      command
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }
  );
}

describe('the demo cluster', () => {
  it('is reachable through the ~/.ssh/config alias with a verified host key', () => {
    expect(ssh('whoami').trim()).toBe(info.user);
  });

  it('refuses to connect when the host key is not known', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jlhpc-kh-'));
    try {
      writeFileSync(join(dir, 'known_hosts'), '');
      const r = spawnSync(
        'ssh',
        [
          '-o',
          'BatchMode=yes',
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
          '-o',
          'GlobalKnownHostsFile=/dev/null',
          info.alias,
          'true'
        ],
        { encoding: 'utf8' }
      );
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/Host key verification failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has an idle SLURM node in the default partition', () => {
    const out = ssh('sinfo -h -o "%P %T"');
    expect(out).toMatch(new RegExp(`^${info.partition}\\* (idle|mixed)`, 'm'));
  });

  it('runs a batch job submitted over ssh', async () => {
    const marker = `jlhpc-${Date.now()}`;
    const submitted = ssh(
      `cd /tmp && sbatch --parsable --job-name=${marker} --output=/tmp/${marker}.out --wrap 'echo ran on $(hostname)'`
    ).trim();
    expect(submitted).toMatch(/^\d+$/);
    await waitFor(
      'the job to finish',
      () =>
        ssh(`squeue -h -j ${submitted} -o %T 2>/dev/null || true`).trim() ===
        '',
      60_000
    );
    expect(ssh(`cat /tmp/${marker}.out`)).toMatch(/^ran on /);
    ssh(`rm -f /tmp/${marker}.out`);
  });

  it('lists its conda environments in ~/.conda/environments.txt', () => {
    const listed = ssh('cat ~/.conda/environments.txt').trim().split('\n');
    for (const env of info.envs.filter(e => e.name !== 'base')) {
      expect(listed).toContain(env.prefix);
    }
  });

  it('lays out every environment like conda does, from real Pythons', () => {
    for (const env of info.envs) {
      const meta = ssh(`ls '${env.prefix}/conda-meta'`).split('\n');
      expect(meta).toContain('history');
      expect(meta.some(f => /^python-3\.\d+\.\d+-.*\.json$/.test(f))).toBe(
        true
      );
      expect(meta.some(f => /^ipykernel-.*\.json$/.test(f))).toBe(
        env.ipykernel
      );
      expect(meta.some(f => /^jupyterlab-.*\.json$/.test(f))).toBe(
        env.jupyterlab
      );
      expect(ssh(`'${env.prefix}/bin/python' -c 'print(6*7)'`).trim()).toBe(
        '42'
      );
    }
  });

  it('has a JupyterLab environment that really runs jupyter lab', () => {
    const lab = info.envs.find(e => e.jupyterlab)!;
    expect(ssh(`'${lab.prefix}/bin/jupyter' lab --version`).trim()).toMatch(
      /^4\./
    );
  });
});

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

  it('has a second partition with a shorter limit and GPUs', async () => {
    const gpu = info.partitions.find(p => !p.default)!;
    const [, type, count] = gpu.gres!.split(':');
    const out = ssh(`sinfo -h -p ${gpu.name} -o "%l|%G"`).trim();
    expect(out).toBe(`${gpu.maxTime!.replace(/^0/, '')}|${gpu.gres}`);
    const marker = `jlhpc-gpu-${Date.now()}`;
    const job = ssh(
      `sbatch --parsable -p ${gpu.name} --gres=gpu:${type}:1 -t 5 ` +
        `--output=/tmp/${marker}.out --wrap 'echo "gpus=$CUDA_VISIBLE_DEVICES"'`
    ).trim();
    await waitFor(
      'the GPU job to finish',
      () => ssh(`squeue -h -j ${job} -o %T 2>/dev/null || true`).trim() === '',
      60_000
    );
    expect(ssh(`cat /tmp/${marker}.out`).trim()).toBe('gpus=0');
    expect(Number(count)).toBeGreaterThan(1);
    ssh(`rm -f /tmp/${marker}.out`);
  });

  it('has accounting: the accounts and QOS of the user, enforced', async () => {
    const assoc = ssh(
      `sacctmgr -nP show assoc where user=${info.user} format=account,qos`
    )
      .trim()
      .split('\n')
      .sort();
    expect(assoc).toEqual(
      [...info.accounts].sort().map(a => `${a}|${info.qos.join(',')}`)
    );
    // An account the user does not have is refused at submission…
    const refused = spawnSync(
      'ssh',
      [info.alias, 'sbatch --parsable -A no-such-account --wrap true'],
      { encoding: 'utf8' }
    );
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/Invalid account/);
    // …while a wall time over the QOS limit is accepted and stays pending.
    const [qos, maxWall] = Object.entries(info.qosMaxWall)[0];
    const over = ssh(
      `sbatch --parsable -q ${qos} -t ${maxWall.replace(/^00:/, '')}:01 --wrap true`
    ).trim();
    try {
      await waitFor(
        'the reason QOSMaxWallDurationPerJobLimit',
        () =>
          ssh(`squeue -h -j ${over} -o %r`).trim() ===
          'QOSMaxWallDurationPerJobLimit',
        30_000
      );
    } finally {
      ssh(`scancel ${over}`);
    }
    // Finished jobs stay in sacct's history.
    await waitFor(
      'sacct to record the cancelled job',
      () =>
        ssh(`sacct -X -n -P -j ${over} -o State`)
          .trim()
          .startsWith('CANCELLED'),
      30_000
    );
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
      // A record is `<name>-<version>-<build>.json`: jupyterlab-widgets is
      // not jupyterlab.
      expect(meta.some(f => /^ipykernel-\d.*\.json$/.test(f))).toBe(
        env.ipykernel
      );
      expect(meta.some(f => /^jupyterlab-\d.*\.json$/.test(f))).toBe(
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

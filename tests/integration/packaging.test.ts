/**
 * What a user gets from `pip install jupyterlab-hpc` in a fresh virtual
 * environment with no Node.js of their own: the prebuilt labextension, the
 * server configuration and a sidecar that runs.
 */
import { execFileSync, spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import { IHealth } from '../../src/common/api';
import { PACKAGE_VERSION } from '../../src/common/version';
import { IRunningLab, REPO, startLab, VENV } from '../support/jupyter-lab';
import { cmdline } from '../support/proc';

let work: string;
let venv: string;
let wheel: string;

function python(args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(join(venv, 'bin', 'python'), args, {
    encoding: 'utf8',
    env: { ...env, PATH: join(venv, 'bin'), HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe']
  });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'jlhpc-pkg-'));
  const dist = join(REPO, 'dist');
  const built = existsSync(dist)
    ? readdirSync(dist).find(f => f.startsWith('jupyterlab_hpc-'))
    : undefined;
  if (built) {
    wheel = join(dist, built);
  } else {
    execFileSync(
      join(VENV, 'bin', 'python'),
      ['-m', 'pip', 'wheel', '-q', '--no-deps', '-w', work, REPO],
      { stdio: 'inherit' }
    );
    wheel = join(
      work,
      readdirSync(work).find(f => f.endsWith('.whl'))!
    );
  }
  // The same Python as the project venv, but none of its packages.
  const base = execFileSync(
    join(VENV, 'bin', 'python'),
    ['-c', 'import sys; print(sys._base_executable)'],
    { encoding: 'utf8' }
  ).trim();
  venv = join(work, 'venv');
  execFileSync(base, ['-m', 'venv', venv]);
  python(['-m', 'pip', 'install', '-q', wheel, 'jupyterlab~=4.6.0']);
}, 600_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('the wheel', () => {
  it('carries the labextension, the server config, the sidecar and the entry point', () => {
    const names = python([
      '-c',
      'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))',
      wheel
    ]).split('\n');
    const has = (re: RegExp) => names.some(n => re.test(n));
    expect(
      has(
        /\.data\/data\/share\/jupyter\/labextensions\/jupyterlab-hpc\/package\.json$/
      )
    ).toBe(true);
    expect(
      has(
        /\.data\/data\/share\/jupyter\/labextensions\/jupyterlab-hpc\/schemas\/jupyterlab-hpc\/plugin\.json$/
      )
    ).toBe(true);
    expect(
      has(
        /\.data\/data\/etc\/jupyter\/jupyter_server_config\.d\/jupyterlab_hpc\.json$/
      )
    ).toBe(true);
    // The sidecar loads services.js and ws.js when first needed.
    for (const file of ['sidecar.js', 'services.js', 'ws.js']) {
      expect(names).toContain(`jupyterlab_hpc/sidecar/${file}`);
    }
    const entryPoints = python([
      '-c',
      'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(z.read([n for n in z.namelist() if n.endswith("entry_points.txt")][0]).decode())',
      wheel
    ]);
    expect(entryPoints).toMatch(
      /\[jupyter_serverproxy_servers\]\s*\njupyterlab-hpc = jupyterlab_hpc\.proxy:setup_sidecar/
    );
    // Cluster kernelspecs name it (PROVISIONER_NAME).
    expect(entryPoints).toMatch(
      /\[jupyter_client\.kernel_provisioners\]\s*\njupyterlab-hpc = jupyterlab_hpc\.provisioner:ClusterProvisioner/
    );
    // The server extension that owns the sidecar is enabled on install.
    const serverConfig = JSON.parse(
      python([
        '-c',
        'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(z.read([n for n in z.namelist() if n.endswith("jupyter_server_config.d/jupyterlab_hpc.json")][0]).decode())',
        wheel
      ])
    );
    expect(serverConfig.ServerApp.jpserver_extensions).toEqual({
      jupyter_server_proxy: true,
      jupyterlab_hpc: true
    });
  });
});

describe('a fresh virtual environment with only pip install', () => {
  it('has no node on its PATH', () => {
    const found = spawnSync('/bin/sh', ['-c', 'command -v node'], {
      env: { PATH: join(venv, 'bin') }
    });
    expect(found.status).not.toBe(0);
  });

  it('lists the extension as enabled and OK', () => {
    const out = execFileSync(
      join(venv, 'bin', 'jupyter'),
      ['labextension', 'list'],
      {
        encoding: 'utf8',
        env: { PATH: join(venv, 'bin'), HOME: process.env.HOME },
        stdio: ['ignore', 'pipe', 'pipe']
      }
    );
    // jupyter writes this list to stderr on some versions; check both.
    const both =
      out +
      execFileSync(
        '/bin/sh',
        ['-c', `"${join(venv, 'bin', 'jupyter')}" labextension list 2>&1`],
        {
          encoding: 'utf8',
          env: { PATH: join(venv, 'bin'), HOME: process.env.HOME }
        }
      );
    expect(both).toMatch(
      new RegExp(`jupyterlab-hpc v${PACKAGE_VERSION}.*enabled.*OK`)
    );
  });

  it('starts the sidecar on the Node.js runtime that pip installed', async () => {
    let lab: IRunningLab | null = null;
    try {
      lab = await startLab({ venv, path: join(venv, 'bin') });
      const res = await fetch(lab.url + 'jupyterlab-hpc/api/v1/health', {
        headers: { Authorization: `token ${lab.token}` }
      });
      expect(res.status).toBe(200);
      const health = (await res.json()) as IHealth;
      expect(health.version).toBe(PACKAGE_VERSION);
      expect(cmdline(health.pid)[0].startsWith(venv)).toBe(true);
      // Answered by the part of the sidecar it loads on first use.
      const tasks = await fetch(lab.url + 'jupyterlab-hpc/api/v1/tasks', {
        headers: { Authorization: `token ${lab.token}` }
      });
      expect(tasks.status).toBe(200);
      expect(await tasks.json()).toEqual([]);
    } finally {
      await lab?.stop();
    }
  });
});

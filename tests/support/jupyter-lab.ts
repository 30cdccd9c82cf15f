/**
 * Starts a real `jupyter lab` from the project's virtual environment (where
 * scripts/setup.sh pip-installed jupyterlab-hpc), isolated from the user's
 * own Jupyter config, data and settings. Used by integration and UI tests.
 */
import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import { join, resolve } from 'path';

export const REPO = resolve(__dirname, '..', '..');
export const VENV = process.env.JUPYTERLAB_HPC_VENV ?? join(REPO, '.venv');

export interface IRunningLab {
  url: string;
  port: number;
  token: string;
  /** The isolated directory holding config, data, settings and the log. */
  home: string;
  logFile: string;
  process: ChildProcess;
  /** Text the server printed so far (stdout and stderr). */
  log(): string;
  /** SIGTERM (SIGKILL after 5 s); `keepHome` leaves its directory for a restart. */
  stop(options?: { keepHome?: boolean }): Promise<void>;
}

export interface IStartLabOptions {
  /** Settings of jupyterlab-hpc:plugin to start with. */
  hpcSettings?: Record<string, unknown>;
  /** Extra environment for the server (and so for the sidecar). */
  env?: Record<string, string>;
  /** PATH for the server; defaults to the current one. */
  path?: string;
  /** Written to the isolated config dir as jupyter_server_config.json. */
  serverConfig?: Record<string, unknown>;
  /** Use this virtual environment instead of the project's. */
  venv?: string;
  timeoutMs?: number;
  /**
   * Start in this directory (config, data, runtime of an earlier server,
   * which `stop({ keepHome: true })` left), as a restarted server would.
   */
  home?: string;
  /**
   * How the server gets its token: on its command line (the default), or in
   * `JUPYTER_TOKEN` as Docker images and spawners give it, which keeps it
   * out of `ps` (the secrets suite needs that).
   */
  tokenVia?: 'argv' | 'env';
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

export async function startLab(
  options: IStartLabOptions = {}
): Promise<IRunningLab> {
  const venv = options.venv ?? VENV;
  const home = options.home ?? mkdtempSync(join(tmpdir(), 'jlhpc-lab-'));
  const dirs = {
    JUPYTER_CONFIG_DIR: join(home, 'config'),
    JUPYTER_DATA_DIR: join(home, 'data'),
    JUPYTER_RUNTIME_DIR: join(home, 'runtime'),
    JUPYTERLAB_SETTINGS_DIR: join(home, 'settings'),
    JUPYTERLAB_WORKSPACES_DIR: join(home, 'workspaces')
  };
  Object.values(dirs).forEach(d => mkdirSync(d, { recursive: true }));
  if (options.hpcSettings) {
    const dir = join(dirs.JUPYTERLAB_SETTINGS_DIR, 'jupyterlab-hpc');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'plugin.jupyterlab-settings'),
      JSON.stringify(options.hpcSettings, null, 2)
    );
  }
  if (options.serverConfig) {
    writeFileSync(
      join(dirs.JUPYTER_CONFIG_DIR, 'jupyter_server_config.json'),
      JSON.stringify(options.serverConfig, null, 2)
    );
  }
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const args = [
    'lab',
    '--no-browser',
    '--ServerApp.ip=127.0.0.1',
    `--ServerApp.port=${port}`,
    '--ServerApp.port_retries=0',
    `--ServerApp.root_dir=${home}`,
    ...(options.tokenVia === 'env'
      ? []
      : [`--IdentityProvider.token=${token}`]),
    '--LabApp.news_url=None',
    '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'
  ];
  if (process.getuid?.() === 0) {
    args.push('--allow-root');
  }
  const logFile = join(home, 'jupyter.log');
  let output = '';
  const child = spawn(join(venv, 'bin', 'jupyter'), args, {
    cwd: home,
    env: {
      ...process.env,
      ...dirs,
      ...options.env,
      ...(options.tokenVia === 'env' ? { JUPYTER_TOKEN: token } : {}),
      PATH: options.path ?? process.env.PATH ?? ''
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true
  });
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const url = `http://127.0.0.1:${port}/`;
  const lab: IRunningLab = {
    url,
    port,
    token,
    home,
    logFile,
    process: child,
    log: () => output,
    stop: async (stopOptions = {}) => {
      writeFileSync(logFile, output);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise(r => child.once('exit', r));
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          // already gone
        }
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            // already gone
          }
        }, 5000);
        await exited;
        clearTimeout(timer);
      }
      if (!process.env.KEEP_TEST_LAB && !stopOptions.keepHome) {
        rmSync(home, { recursive: true, force: true });
      }
    }
  };

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`jupyter lab exited early:\n${output}`);
    }
    try {
      const res = await fetch(`${url}api/status`, {
        headers: { Authorization: `token ${token}` }
      });
      if (res.ok) {
        return lab;
      }
    } catch {
      // not listening yet
    }
    await new Promise(r => setTimeout(r, 250));
  }
  await lab.stop();
  throw new Error(`jupyter lab did not start in time:\n${output}`);
}

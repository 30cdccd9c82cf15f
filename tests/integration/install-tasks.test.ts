/**
 * Install tasks end to end (issue 4): the real sidecar bundle, the demo
 * cluster's real sshd and user, and an installer served over HTTP by this
 * test on 127.0.0.1 (the demo cluster runs on this machine, so its curl
 * reaches it). The installer is tests/fixtures/miniforge/Miniforge3-fixture.sh,
 * which builds a conda-layout prefix from a real venv and gives it a `conda`
 * that fills environments with pip (the real Miniforge cannot be downloaded
 * here).
 *
 * Everything made in the cluster user's home is removed afterwards and
 * ~/.conda/environments.txt is restored. The user's own ~/.local/miniforge
 * (the demo's conda-layout base) is only ever checked, never touched.
 */
import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import { readFileSync, rmSync, writeFileSync } from 'fs';
import { createServer, Server, ServerResponse } from 'http';
import type { AddressInfo } from 'net';
import { join, resolve } from 'path';

import type {
  ITask,
  ITaskOutputEvent,
  SidecarEvent
} from '../../src/common/api';
import { quoteArg } from '../../src/sidecar/shell/quote';
import { ISidecar, makeHome, startSidecar } from '../support/sidecar';
import { demoCluster } from '../support/demo-cluster';

const demo = demoCluster();
/** The test installer, with the one conda-meta writer put in. */
const FIXTURE = readFileSync(
  resolve(__dirname, '..', 'fixtures', 'miniforge', 'Miniforge3-fixture.sh'),
  'utf8'
).replace(
  /^@CONDA_META_PY@$/m,
  // A function: the text must not go through replace()'s `$` patterns.
  () =>
    readFileSync(resolve(__dirname, '..', 'cluster', 'conda_meta.py'), 'utf8')
);
const HOME = `/home/${demo.user}`;
const TAG = randomBytes(4).toString('hex');
/** Prefixes this test may create in the cluster user's home; all removed. */
const PREFIX = `${HOME}/jlhpc-test-miniforge-${TAG}`;
const PIP_ENV = `${HOME}/jlhpc-test-pipenv-${TAG}`;
const SCRATCH = [
  PREFIX,
  PIP_ENV,
  `${PREFIX}-404`,
  `${PREFIX}-slow`,
  `${PREFIX}-paused`,
  `${PREFIX}-shutdown`
];

/**
 * Run a script as the cluster user over a plain OpenSSH login. Never with
 * spawnSync: a blocked event loop misses the sidecar closing an idle
 * keep-alive socket, and the next request then fails with EPIPE.
 */
function onCluster(
  script: string,
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise(done => {
    execFile(
      'ssh',
      [
        '-o',
        'BatchMode=yes',
        '-o',
        `UserKnownHostsFile=${demo.knownHosts}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-i',
        demo.identityFile,
        '-p',
        String(demo.port),
        `${demo.user}@${demo.host}`,
        ['sh', '-c', script, 'sh', ...args].map(quoteArg).join(' ')
      ],
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        done({
          status: error
            ? typeof error.code === 'number'
              ? error.code
              : -1
            : 0,
          stdout,
          stderr
        })
    );
  });
}

async function exists(path: string): Promise<boolean> {
  return (await onCluster('test -e "$1"', path)).status === 0;
}

/** The cluster user's processes whose command line mentions `text`. */
async function processesWith(text: string): Promise<string[]> {
  return (await onCluster('ps -u "$(id -u)" -o pid=,args=')).stdout
    .split('\n')
    .filter(line => line.includes(text) && !line.includes('ps -u'));
}

// --- the installer, served by this test -------------------------------------

let server: Server;
let base = '';
const requests: string[] = [];
const trickling = new Set<ServerResponse>();
let arch = '';

async function serveInstaller(): Promise<void> {
  arch = (await onCluster('uname -m')).stdout.trim();
  const file = `/Miniforge3-Linux-${arch}.sh`;
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    if (path === `/mf${file}`) {
      res.writeHead(200, { 'Content-Type': 'application/x-sh' });
      res.end(FIXTURE);
    } else if (path === `/paused${file}`) {
      // The same installer, pausing two minutes after it unpacked Python.
      res.writeHead(200, { 'Content-Type': 'application/x-sh' });
      res.end(FIXTURE.replace(/^PAUSE_SECONDS=0$/m, 'PAUSE_SECONDS=120'));
    } else if (path === `/slow${file}`) {
      // A download that never finishes: 1 KiB every 100 ms of 80 MiB.
      res.writeHead(200, { 'Content-Length': String(80 * 1024 * 1024) });
      trickling.add(res);
      const timer = setInterval(() => res.write(Buffer.alloc(1024, 35)), 100);
      res.on('close', () => {
        clearInterval(timer);
        trickling.delete(res);
      });
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not here\n');
    }
  });
  await new Promise<void>(done => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

// --- the sidecar --------------------------------------------------------------

let sidecar: ISidecar;
let environmentsTxt: string | null = null;

function demoKnownHosts(): string {
  const name = `[${demo.host}]:${demo.port} `;
  return (
    readFileSync(demo.knownHosts, 'utf8')
      .split('\n')
      .filter(l => l.startsWith(name))
      .join('\n') + '\n'
  );
}

/** A sidecar of its own HOME with the demo cluster configured as `demo`. */
async function launch(): Promise<ISidecar> {
  const home = makeHome();
  writeFileSync(
    join(home, '.ssh', 'config'),
    `Host hpc-demo
  HostName ${demo.host}
  Port ${demo.port}
  User ${demo.user}
  IdentityFile ${demo.identityFile}
  IdentitiesOnly yes
`,
    { mode: 0o600 }
  );
  writeFileSync(join(home, '.ssh', 'known_hosts'), demoKnownHosts(), {
    mode: 0o600
  });
  const started = await startSidecar({ home });
  const put = await started.api('PUT', '/api/v1/clusters', {
    clusters: [{ name: 'demo', host: 'hpc-demo' }]
  });
  expect(put.status).toBe(200);
  return started;
}

beforeAll(async () => {
  const saved = await onCluster('cat "$HOME/.conda/environments.txt"');
  environmentsTxt = saved.status === 0 ? saved.stdout : null;
  await serveInstaller();
  sidecar = await launch();
});

afterAll(async () => {
  await sidecar?.stop();
  if (sidecar) {
    rmSync(sidecar.home, { recursive: true, force: true });
  }
  for (const res of trickling) {
    res.destroy();
  }
  await new Promise(done => server?.close(done));
  await onCluster('rm -rf -- "$@"', ...SCRATCH);
  // Take out the lines of this test's environments (conda create adds
  // them), leaving whatever else anyone added meanwhile.
  await onCluster(FORGET_ENVS_SCRIPT, ...SCRATCH);
  const now = await onCluster('cat "$HOME/.conda/environments.txt"');
  if (environmentsTxt !== null && now.stdout !== environmentsTxt) {
    console.warn(
      `~${demo.user}/.conda/environments.txt differs from before the test:\n${now.stdout}`
    );
  }
});

const FORGET_ENVS_SCRIPT = `f=$HOME/.conda/environments.txt
[ -f "$f" ] || exit 0
out=
while IFS= read -r line || [ -n "$line" ]; do
  keep=1
  for p in "$@"; do case $line in "$p" | "$p"/*) keep=0 ;; esac; done
  if [ $keep = 1 ]; then out="$out$line
"; fi
done <"$f"
printf %s "$out" >"$f"`;

// --- helpers ----------------------------------------------------------------

async function startTask(path: string, body: unknown): Promise<ITask> {
  const answer = await sidecar.api<ITask>('POST', path, body);
  if (answer.status !== 202) {
    throw new Error(
      `POST ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`
    );
  }
  expect(answer.body.state).toBe('running');
  return answer.body;
}

function ended(id: string, timeoutMs = 170_000): Promise<ITask> {
  return sidecar
    .waitForEvent(
      (e): e is Extract<SidecarEvent, { type: 'task' }> =>
        e.type === 'task' && e.task.id === id && e.task.state !== 'running',
      timeoutMs
    )
    .then(e => e.task);
}

/** The output as the events streamed it, checked to be gapless. */
function streamed(id: string, on: ISidecar = sidecar): string {
  let text = '';
  for (const e of on.events) {
    if (e.type === 'task-output' && e.id === id) {
      expect((e as ITaskOutputEvent).offset).toBe(text.length);
      text += e.text;
    }
  }
  return text;
}

function steps(id: string): string[] {
  const seen: string[] = [];
  for (const e of sidecar.events) {
    if (e.type === 'task' && e.task.id === id && seen.at(-1) !== e.task.step) {
      seen.push(e.task.step);
    }
  }
  return seen;
}

async function untilOutput(
  id: string,
  text: string,
  on: ISidecar = sidecar
): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!streamed(id, on).includes(text)) {
    if (Date.now() > deadline) {
      throw new Error(
        `no "${text}" in the output of ${id}:\n${streamed(id, on)}`
      );
    }
    await new Promise(done => setTimeout(done, 100));
  }
}

/** The private download directory the task's curl wrote into. */
function downloadDir(output: string): string {
  const m = /-o (\/\S*\/jlhpc-miniforge\.[A-Za-z0-9]{8})\/Miniforge3\.sh/.exec(
    output
  );
  if (!m) {
    throw new Error(`no download directory in:\n${output}`);
  }
  return m[1];
}

const miniforge = '/api/v1/clusters/demo/miniforge';
const url = (dir: string) => `${base}/${dir}/Miniforge3-Linux-{arch}.sh`;

// --- the tests ----------------------------------------------------------------

describe('installing Miniforge on a cluster', () => {
  it('refuses the existing ~/.local/miniforge (conda-exists) and downloads nothing', async () => {
    const before = requests.length;
    const answer = await sidecar.api('POST', miniforge, {
      installerUrl: url('mf'),
      createJupyterlabEnv: true
    });
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe('conda-exists');
    expect(answer.body.error.message).toContain(`${HOME}/.local/miniforge`);
    expect(requests.length).toBe(before);
    const list = await sidecar.api<ITask[]>('GET', '/api/v1/tasks');
    expect(list.body).toEqual([]);
    expect(await exists(`${HOME}/.local/miniforge/bin/python`)).toBe(true);
  });

  it('refuses installer URLs other than one http(s) URL, and bad bodies', async () => {
    for (const installerUrl of [
      'ftp://example.org/Miniforge3.sh',
      'file:///etc/passwd',
      `${base}/mf/Miniforge3 Linux.sh`,
      `${base}/mf/x.sh\n-o /tmp/x`,
      'not a url'
    ]) {
      const answer = await sidecar.api('POST', miniforge, {
        installerUrl,
        prefix: `${PREFIX}-bad`,
        createJupyterlabEnv: false
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('installer-url');
    }
    for (const body of [
      { createJupyterlabEnv: 'yes' },
      { createJupyterlabEnv: false, prefix: 'relative/dir' },
      { createJupyterlabEnv: false, prefix: '~/with space' },
      { createJupyterlabEnv: false, prefix: '~/../../etc' }
    ]) {
      const answer = await sidecar.api('POST', miniforge, body);
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('bad-request');
    }
    expect(await exists(`${PREFIX}-bad`)).toBe(false);
  });

  it("fails with curl's message when the installer is not there (404)", async () => {
    const task = await startTask(miniforge, {
      installerUrl: url('missing'),
      prefix: `~/jlhpc-test-miniforge-${TAG}-404`,
      createJupyterlabEnv: false
    });
    const done = await ended(task.id);
    expect(done.state).toBe('failed');
    expect(done.error!.code).toBe('task-failed');
    expect(done.error!.message).toMatch(/Downloading the installer failed/);
    expect(done.error!.message).toMatch(/404/);
    expect(requests).toContain(`/missing/Miniforge3-Linux-${arch}.sh`);
    const output = streamed(task.id);
    expect(await exists(downloadDir(output))).toBe(false);
    expect(await exists(`${PREFIX}-404`)).toBe(false);
    const got = await sidecar.api<ITask>('GET', `/api/v1/tasks/${task.id}`);
    expect(got.body.output).toBe(output);
    expect(got.body.outputOffset).toBe(0);
  });

  it('installs Miniforge and the jupyterlab environment, streaming every step', async () => {
    const t0 = Date.now();
    const task = await startTask(miniforge, {
      installerUrl: url('mf'),
      prefix: `~/jlhpc-test-miniforge-${TAG}`,
      createJupyterlabEnv: true
    });
    expect(task.title).toBe(`Install Miniforge into ${PREFIX} on demo`);
    const done = await ended(task.id);
    const output = streamed(task.id);
    if (done.state !== 'succeeded') {
      throw new Error(`${JSON.stringify(done.error)}\n${output}`);
    }
    expect(steps(task.id)).toEqual([
      'Downloading the installer',
      'Running the installer',
      'Creating the jupyterlab environment',
      'Done'
    ]);
    // {arch} became the cluster's uname -m.
    expect(requests).toContain(`/mf/Miniforge3-Linux-${arch}.sh`);
    expect(output).toContain(`PREFIX=${PREFIX}`);
    expect(output).toContain('installation finished.');
    expect(output).toContain(
      `$ ${PREFIX}/bin/conda create -y -p ${PREFIX}/envs/jupyterlab jupyterlab ipykernel`
    );
    const got = await sidecar.api<ITask>('GET', `/api/v1/tasks/${task.id}`);
    expect(got.body.output).toBe(output);
    expect(got.body.outputLength).toBe(output.length);

    const info = JSON.parse(
      (await onCluster('"$1/bin/conda" info --json', PREFIX)).stdout
    );
    expect(info.root_prefix).toBe(PREFIX);
    expect(
      (await onCluster('cat "$HOME/.conda/environments.txt"')).stdout
    ).toContain(`${PREFIX}/envs/jupyterlab\n`);
    expect(info.envs).toContain(`${PREFIX}/envs/jupyterlab`);
    const check = await onCluster(
      'ls "$1"/conda-meta/jupyterlab-[0-9]*.json "$1"/conda-meta/ipykernel-[0-9]*.json && "$1/bin/python" -c "import jupyterlab, ipykernel"',
      `${PREFIX}/envs/jupyterlab`
    );
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(await exists(downloadDir(output))).toBe(false);
    await sidecar.waitForEvent(
      (e): e is SidecarEvent => e.type === 'envs-changed' && e.target === 'demo'
    );
    // Durations, for the record.
    const envSeconds =
      /Executing transaction: \.\.\.working\.\.\. done \((\d+\.\d) s\)/.exec(
        output
      )?.[1];
    console.log(
      `install-miniforge: ${((done.endedAt! - done.startedAt) / 1000).toFixed(1)} s in all (request to end ${((Date.now() - t0) / 1000).toFixed(1)} s), of which creating the jupyterlab env ${envSeconds} s`
    );
  });

  it('installs ipykernel into an env of that Miniforge with its conda', async () => {
    const env = `${PREFIX}/envs/no-kernel`;
    const made = await onCluster(
      '"$1/bin/conda" create -y -p "$2"',
      PREFIX,
      env
    );
    expect(made.status).toBe(0);
    expect(
      (await onCluster('ls "$1"/conda-meta/ipykernel-*.json', env)).status
    ).not.toBe(0);
    const task = await startTask(
      '/api/v1/clusters/demo/envs/install-ipykernel',
      { prefix: env }
    );
    expect(task.step).toBe('Installing ipykernel with conda');
    const done = await ended(task.id);
    const output = streamed(task.id);
    if (done.state !== 'succeeded') {
      throw new Error(`${JSON.stringify(done.error)}\n${output}`);
    }
    expect(output).toContain(
      `$ ${PREFIX}/bin/conda install -y -p ${env} ipykernel`
    );
    expect(output).toMatch(/ipykernel \S+ is installed/);
    expect(
      (await onCluster('ls "$1"/conda-meta/ipykernel-[0-9]*.json', env)).status
    ).toBe(0);
  });
});

describe('installing ipykernel', () => {
  it("uses the env's own pip when no conda is found", async () => {
    // A conda-layout env outside any install root, as the demo builds them.
    const made = await onCluster(
      '/usr/bin/python3 -m venv "$1" && mkdir "$1/conda-meta" && : > "$1/conda-meta/history"',
      PIP_ENV
    );
    expect(made.status).toBe(0);
    const task = await startTask(
      '/api/v1/clusters/demo/envs/install-ipykernel',
      { prefix: PIP_ENV }
    );
    expect(task.step).toBe('Installing ipykernel with pip');
    const done = await ended(task.id);
    const output = streamed(task.id);
    if (done.state !== 'succeeded') {
      throw new Error(`${JSON.stringify(done.error)}\n${output}`);
    }
    expect(output).toContain(
      `$ ${PIP_ENV}/bin/python -m pip install --progress-bar off ipykernel`
    );
    expect(
      (await onCluster('"$1/bin/python" -c "import ipykernel"', PIP_ENV)).status
    ).toBe(0);
  });

  it('refuses what is not an environment (env-not-found)', async () => {
    for (const prefix of [`${HOME}/projects`, `${HOME}/no-such-env-${TAG}`]) {
      const answer = await sidecar.api(
        'POST',
        '/api/v1/clusters/demo/envs/install-ipykernel',
        { prefix }
      );
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('env-not-found');
      expect(answer.body.error.message).toContain(prefix);
    }
    const local = await sidecar.api(
      'POST',
      '/api/v1/local/envs/install-ipykernel',
      { prefix: sidecar.home }
    );
    expect(local.status).toBe(404);
    expect(local.body.error.code).toBe('env-not-found');
    expect(local.body.error.message).toContain('this computer');
    for (const body of [{}, { prefix: 'relative' }, { prefix: 42 }]) {
      const answer = await sidecar.api(
        'POST',
        '/api/v1/clusters/demo/envs/install-ipykernel',
        body
      );
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('bad-request');
    }
    const unknown = await sidecar.api(
      'POST',
      '/api/v1/clusters/nowhere/envs/install-ipykernel',
      { prefix: '/x' }
    );
    expect(unknown.body.error.code).toBe('unknown-cluster');
  });
});

describe('cancelling', () => {
  it('stops a download: curl is gone and its directory removed', async () => {
    const task = await startTask(miniforge, {
      installerUrl: url('slow'),
      prefix: `~/jlhpc-test-miniforge-${TAG}-slow`,
      createJupyterlabEnv: false
    });
    await untilOutput(task.id, '$ ');
    const deadline = Date.now() + 30_000;
    while (trickling.size === 0 && Date.now() < deadline) {
      await new Promise(done => setTimeout(done, 100));
    }
    expect(trickling.size).toBe(1);
    const dir = downloadDir(streamed(task.id));
    expect((await processesWith(dir)).length).toBeGreaterThan(0);

    const cancelled = await sidecar.api<ITask>(
      'DELETE',
      `/api/v1/tasks/${task.id}`
    );
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    expect(cancelled.body.error!.code).toBe('task-cancelled');
    expect(await processesWith(dir)).toEqual([]);
    expect(await exists(dir)).toBe(false);
    expect(await exists(`${PREFIX}-slow`)).toBe(false);
    // The server saw the download go away.
    expect(trickling.size).toBe(0);
  });

  it('stops the installer and everything it started, and removes the half-made prefix', async () => {
    const prefix = `${PREFIX}-paused`;
    const task = await startTask(miniforge, {
      installerUrl: url('paused'),
      prefix,
      createJupyterlabEnv: false
    });
    await untilOutput(task.id, 'Pausing for 120 s');
    const dir = downloadDir(streamed(task.id));
    const running = await processesWith(dir);
    expect(running.join('\n')).toContain('Miniforge3.sh');
    expect((await processesWith('sleep 120')).length).toBeGreaterThan(0);
    expect(await exists(`${prefix}/bin/python`)).toBe(true);

    const cancelled = await sidecar.api<ITask>(
      'DELETE',
      `/api/v1/tasks/${task.id}`
    );
    expect(cancelled.body.state).toBe('cancelled');
    expect(await processesWith(dir)).toEqual([]);
    expect(await processesWith('sleep 120')).toEqual([]);
    expect(await exists(prefix)).toBe(false);
    expect(await exists(dir)).toBe(false);
    // Cancelling again changes nothing.
    const again = await sidecar.api<ITask>(
      'DELETE',
      `/api/v1/tasks/${task.id}`
    );
    expect(again.body.state).toBe('cancelled');
  });

  it('stops a running install when the sidecar stops', async () => {
    const other = await launch();
    const prefix = `${PREFIX}-shutdown`;
    try {
      const answer = await other.api<ITask>('POST', miniforge, {
        installerUrl: url('paused'),
        prefix,
        createJupyterlabEnv: false
      });
      expect(answer.status).toBe(202);
      await untilOutput(answer.body.id, 'Pausing for 120 s', other);
      const dir = downloadDir(streamed(answer.body.id, other));
      expect((await processesWith(dir)).length).toBeGreaterThan(0);
      await other.stop();
      expect(await processesWith(dir)).toEqual([]);
      expect(await exists(dir)).toBe(false);
      expect(await exists(prefix)).toBe(false);
    } finally {
      await other.stop();
      rmSync(other.home, { recursive: true, force: true });
    }
  });
});

describe('the task list', () => {
  it('lists the tasks without output and answers task-not-found', async () => {
    const list = await sidecar.api<ITask[]>('GET', '/api/v1/tasks');
    expect(list.status).toBe(200);
    expect(list.body.length).toBeGreaterThanOrEqual(5);
    expect(list.body.every(t => t.output === undefined)).toBe(true);
    expect(list.body.every(t => t.state !== 'running')).toBe(true);
    for (const method of ['GET', 'DELETE']) {
      const answer = await sidecar.api(method, '/api/v1/tasks/t-nope');
      expect(answer.status).toBe(404);
      expect(answer.body.error.code).toBe('task-not-found');
    }
  });
});

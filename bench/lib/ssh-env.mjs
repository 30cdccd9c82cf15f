// The demo cluster (tests/cluster/demo-cluster.sh) as the `ssh` and `tunnel`
// sections reach it: where its sshd listens, and a private home whose
// ~/.ssh/config and known_hosts name it under aliases of our own. Both
// OpenSSH (`ssh -F <config>`) and the sidecar (HOME=<home>) read that config,
// so every approach connects with the same settings and the same key.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { BenchError } from './context.mjs';

const CLUSTER_JSON = '/var/lib/jupyterlab-hpc-demo/cluster.json';
const START = 'bash tests/cluster/demo-cluster.sh start';

/** Resolve when a TCP connect to host:port succeeds; reject on error. */
function tcpProbe(host, port, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('timed out'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.end();
      resolve();
    });
    s.once('error', err => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * The demo cluster's sshd, user, key and host keys, from the file its start
 * script writes. Throws BenchError (with the command to run) when it is not
 * set up or its sshd does not answer.
 */
export async function demoCluster() {
  if (!existsSync(CLUSTER_JSON)) {
    throw new BenchError(
      `${CLUSTER_JSON} is missing: start the demo cluster first (\`${START}\`, as root)`
    );
  }
  const info = JSON.parse(readFileSync(CLUSTER_JSON, 'utf8'));
  const knownHosts = info.knownHosts ?? join(homedir(), '.ssh', 'known_hosts');
  for (const f of [info.identityFile, knownHosts]) {
    if (!f || !existsSync(f)) {
      throw new BenchError(
        `${f ?? 'the demo key'} is missing: run \`${START}\` as the user who runs the benchmarks`
      );
    }
  }
  try {
    await tcpProbe(info.host, info.port);
  } catch (err) {
    throw new BenchError(
      `the demo cluster's sshd does not answer on ${info.host}:${info.port} (${err.code ?? err.message}): run \`${START}\``
    );
  }
  // `type key` of each host key known for [host]:port (hashed or not).
  const name = info.port === 22 ? info.host : `[${info.host}]:${info.port}`;
  let found = '';
  try {
    found = execFileSync('ssh-keygen', ['-F', name, '-f', knownHosts], {
      encoding: 'utf8'
    });
  } catch {
    // exit 1: not found
  }
  const hostKeys = found
    .split('\n')
    .filter(l => l && !l.startsWith('#'))
    .map(l => l.trim().split(/\s+/).slice(1, 3).join(' '));
  if (!hostKeys.length) {
    throw new BenchError(
      `${knownHosts} has no host key for ${name}: run \`${START}\``
    );
  }
  return {
    host: info.host,
    port: info.port,
    user: info.user,
    identityFile: info.identityFile,
    hostKeys,
    // [{name, prefix, ipykernel, jupyterlab}]: the cluster user's envs
    envs: info.envs ?? []
  };
}

/**
 * Write <home>/.ssh/config and known_hosts with one Host block per entry of
 * `hosts` ({alias, port}: the demo sshd's port, or a proxy's in front of it).
 * Every alias trusts exactly the demo's host keys, listed under
 * `[host]:<its port>` (no HostKeyAlias, which not every client reads).
 * Returns { home, config, knownHosts }.
 */
export function writeSshHome(home, cluster, hosts) {
  const dir = join(home, '.ssh');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const config = join(dir, 'config');
  const knownHosts = join(dir, 'known_hosts');
  const blocks = hosts.map(h =>
    [
      `Host ${h.alias}`,
      `    HostName ${cluster.host}`,
      `    Port ${h.port}`,
      `    User ${cluster.user}`,
      `    IdentityFile ${cluster.identityFile}`,
      '    IdentitiesOnly yes',
      `    UserKnownHostsFile ${knownHosts}`,
      '    GlobalKnownHostsFile /dev/null',
      '    StrictHostKeyChecking yes',
      '    UpdateHostKeys no',
      '    LogLevel ERROR'
    ].join('\n')
  );
  writeFileSync(
    config,
    `# Written by bench/lib/ssh-env.mjs for one benchmark run.\n${blocks.join('\n\n')}\n`,
    { mode: 0o600 }
  );
  const lines = [];
  for (const h of hosts) {
    const name = h.port === 22 ? cluster.host : `[${cluster.host}]:${h.port}`;
    for (const k of cluster.hostKeys) {
      lines.push(`${name} ${k}`);
    }
  }
  writeFileSync(knownHosts, `${lines.join('\n')}\n`, { mode: 0o600 });
  return { home, config, knownHosts };
}

/**
 * Run `cmd args` to completion; resolve with { ms, code, stdout, stderr }.
 * `ms` runs from spawn() to 'close' (exit and both pipes drained). Tracked
 * by ctx.spawn, so an interrupted run stops it.
 */
export function timedRun(ctx, cmd, args, { label, env } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = ctx.spawn(cmd, args, {
      label: label ?? cmd,
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    });
    const out = [];
    child.stdout.on('data', c => out.push(c));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({
        ms: performance.now() - t0,
        code: code ?? signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: child.stderrTail ?? ''
      })
    );
  });
}

/** OpenSSH's version line (`OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL …`). */
export function opensshVersion() {
  // `ssh -V` prints on stderr.
  const r = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return `${r.stderr ?? ''}${r.stdout ?? ''}`.split(',')[0].trim();
}

/**
 * Start an OpenSSH ControlMaster for `alias` in the foreground (ctx.spawn:
 * stopped by the runner if the section fails) and wait until
 * `ssh -O check` answers. `extra` adds options (e.g. `-L`). Resolves with
 * { child, controlPath, args(): the options a client needs, close() } —
 * close() sends `-O exit` and waits for the master to go.
 */
export async function startControlMaster(
  ctx,
  { config, alias, dir, extra = [], label }
) {
  const controlPath = join(dir, `cm-${alias}`);
  const common = ['-F', config, '-o', 'BatchMode=yes'];
  const child = ctx.spawn(
    'ssh',
    [
      ...common,
      '-M',
      '-N',
      '-o',
      `ControlPath=${controlPath}`,
      // The master stays in the foreground, where the runner can see it:
      // `ControlPersist=yes` would fork the same master into the
      // background. Clients talk to it through the same socket either way.
      '-o',
      'ControlPersist=no',
      ...extra,
      alias
    ],
    { label: label ?? `ssh ControlMaster to ${alias}` }
  );
  const deadline = performance.now() + 15000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `ssh ControlMaster to ${alias} exited (${child.exitCode ?? child.signalCode}): ${child.stderrTail}`
      );
    }
    const r = await timedRun(ctx, 'ssh', [
      ...common,
      '-o',
      `ControlPath=${controlPath}`,
      '-O',
      'check',
      alias
    ]);
    if (r.code === 0) {
      break;
    }
    if (performance.now() > deadline) {
      throw new Error(
        `ssh ControlMaster to ${alias} did not come up: ${r.stderr}`
      );
    }
    await new Promise(res => setTimeout(res, 20));
  }
  return {
    child,
    controlPath,
    // ControlMaster=no: use the master, never become one. If the master
    // were gone ssh would silently connect afresh; the section checks
    // that the master is still alive after measuring.
    args: () => [
      ...common,
      '-o',
      `ControlPath=${controlPath}`,
      '-o',
      'ControlMaster=no'
    ],
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise(res => child.once('exit', res));
        spawn(
          'ssh',
          [...common, '-o', `ControlPath=${controlPath}`, '-O', 'exit', alias],
          { stdio: 'ignore' }
        );
        const timer = setTimeout(() => child.kill('SIGTERM'), 3000);
        await exited;
        clearTimeout(timer);
      }
    }
  };
}

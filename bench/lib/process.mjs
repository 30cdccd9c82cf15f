// Start a server process, time it to its first HTTP answer on a unix socket,
// read its memory, stop it. Shared by the sections that race processes.
import { request } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * One GET over a unix socket on a fresh connection. Resolves with
 * { status, body } or rejects with the connect error (ENOENT before the
 * socket file exists, ECONNREFUSED before anyone listens on it).
 */
export function getOnce(socketPath, path, agent = false) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', agent }, res => {
      const chunks = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          body: Buffer.concat(chunks).toString('utf8'),
          reused: req.reusedSocket
        })
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const NOT_YET = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE']);

/**
 * Poll `GET path` on the socket every `intervalMs` until it answers 200.
 * Returns { at: performance.now() when the whole answer arrived, body }.
 * Fails if the child exits first, answers non-200, or the deadline passes.
 */
export async function waitForHttp(
  child,
  socketPath,
  path,
  { intervalMs = 2, timeoutMs = 15000 } = {}
) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${describeChild(child)} exited (${child.exitCode ?? child.signalCode}) before answering` +
          stderrTail(child)
      );
    }
    try {
      const res = await getOnce(socketPath, path);
      const at = performance.now();
      if (res.status !== 200) {
        throw new Error(
          `${describeChild(child)} answered ${res.status} to GET ${path}: ${res.body.slice(0, 200)}`
        );
      }
      return { at, body: res.body };
    } catch (err) {
      if (!NOT_YET.has(err.code)) {
        throw err;
      }
    }
    if (performance.now() > deadline) {
      throw new Error(
        `${describeChild(child)} did not answer GET ${path} within ${timeoutMs} ms` +
          stderrTail(child)
      );
    }
    await sleep(intervalMs);
  }
}

/** Resident set size of a live process, in KiB (VmRSS of /proc/<pid>/status). */
export function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) {
    throw new Error(`no VmRSS in /proc/${pid}/status`);
  }
  return Number(m[1]);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child is gone. */
export async function stopProcess(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise(resolve => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Keep the last few KiB of a child's stderr, for error messages. */
export function collectStderr(child) {
  child.stderrTail = '';
  child.stderr?.on('data', chunk => {
    child.stderrTail = (child.stderrTail + chunk.toString('utf8')).slice(-4000);
  });
}

function describeChild(child) {
  return child.benchLabel ?? `process ${child.pid}`;
}

function stderrTail(child) {
  const tail = (child.stderrTail ?? '').trim();
  return tail ? `; its stderr ends with:\n${tail}` : '';
}

/**
 * CPU time a live process has used so far, in ms: the sum over its threads
 * of /proc/<pid>/task/<tid>/schedstat's first field (ns on the CPU). Unlike
 * wall-clock time it hardly moves when other work loads the machine.
 */
export function cpuMs(pid) {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(
        readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]
      );
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1e6;
}

/**
 * The first line a child writes on stdout, parsed as JSON (a server telling
 * its port). Rejects if the child exits first or `timeoutMs` passes.
 * The child must have been spawned with stdout piped.
 */
export function firstJsonLine(child, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    let out = '';
    const finish = (err, value) => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      if (err) {
        reject(err);
      } else {
        resolve(value);
      }
    };
    const onData = chunk => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        try {
          finish(null, JSON.parse(out.slice(0, nl)));
        } catch (err) {
          finish(err);
        }
      }
    };
    const onExit = code =>
      finish(
        new Error(
          `${describeChild(child)} exited (${code}) before it was ready` +
            stderrTail(child)
        )
      );
    const timer = setTimeout(
      () =>
        finish(
          new Error(
            `${describeChild(child)} was not ready within ${timeoutMs} ms` +
              stderrTail(child)
          )
        ),
      timeoutMs
    );
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

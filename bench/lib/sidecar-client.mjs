// The real sidecar process, started as jupyter-server-proxy starts it, and a
// small client for its cluster API over the unix socket (src/common/api.ts).
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';

import { BenchError } from './context.mjs';
import { waitForHttp } from './process.mjs';

const API = '/api/v1';
export const Routes = {
  health: `${API}/health`,
  clusters: `${API}/clusters`,
  connect: name => `${API}/clusters/${encodeURIComponent(name)}/connect`,
  run: name => `${API}/clusters/${encodeURIComponent(name)}/run`,
  clusterForwards: name =>
    `${API}/clusters/${encodeURIComponent(name)}/forwards`,
  forward: id => `${API}/forwards/${encodeURIComponent(id)}`
};

export const NO_API =
  'the sidecar has no cluster API yet: PUT /api/v1/clusters answered 404 ' +
  '(rebuild with `npm run build:sidecar` once src/sidecar serves it)';

/** The environment the sidecar gets: ours, minus what would change its startup. */
export function sidecarEnv(extra) {
  const env = { ...process.env, ...extra };
  for (const v of [
    'NODE_OPTIONS',
    'NODE_COMPILE_CACHE',
    'NODE_EXTRA_CA_CERTS'
  ]) {
    delete env[v];
  }
  return env;
}

/**
 * Start `<product node> jupyterlab_hpc/sidecar/sidecar.js --socket
 * <private dir>/sidecar.sock` with HOME=`home` (so it reads the ssh config
 * and known_hosts written there) and wait for its health answer. Resolves
 * with a client: { child, socket, call(method, path, body), close() }.
 */
export async function startSidecar(ctx, { home }) {
  const sidecarJs = join(ctx.root, 'jupyterlab_hpc', 'sidecar', 'sidecar.js');
  if (!existsSync(sidecarJs)) {
    throw new BenchError(
      `${relative(process.cwd(), sidecarJs)} is missing: run \`bash scripts/setup.sh\` first (it builds the sidecar)`
    );
  }
  const node = ctx.productNode();
  if (node.note) {
    ctx.log(`warning: ${node.note}`);
  }
  const socket = join(ctx.tmpdir(), 'sidecar.sock');
  const child = ctx.spawn(node.path, [sidecarJs, '--socket', socket], {
    label: `sidecar on node ${node.version}`,
    env: sidecarEnv({
      HOME: home,
      JUPYTERLAB_HPC_DATA_DIR: ctx.tmpdir()
    })
  });
  await waitForHttp(child, socket, Routes.health, { intervalMs: 5 });
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });

  /**
   * One request; resolves with { status, body (parsed JSON or text), ms }.
   * `ms`: from the request to the last byte of the answer.
   */
  const call = (method, path, body) =>
    new Promise((resolve, reject) => {
      const data =
        body === undefined ? null : Buffer.from(JSON.stringify(body));
      const t0 = performance.now();
      const req = request(
        {
          socketPath: socket,
          path,
          method,
          agent,
          headers: {
            'Content-Type': 'application/json',
            'X-Jupyterlab-Hpc': '1',
            ...(data ? { 'Content-Length': data.length } : {})
          }
        },
        res => {
          const chunks = [];
          res.on('data', c => chunks.push(c));
          res.on('end', () => {
            const ms = performance.now() - t0;
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON: keep the text
            }
            resolve({ status: res.statusCode, body: parsed, ms });
          });
          res.on('error', reject);
        }
      );
      req.on('error', reject);
      req.end(data ?? undefined);
    });

  return {
    child,
    socket,
    node,
    call,
    close: async () => {
      agent.destroy();
      await ctx.stop(child);
    }
  };
}

/** `{status, body}` of an error answer, in one line for a message. */
export function describeAnswer(res) {
  const e = res.body?.error;
  return e
    ? `${res.status} ${e.code}: ${e.message}`
    : `${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
}

/**
 * PUT the clusters (IClusterConfig[], each an alias of the ssh config in the
 * sidecar's HOME). Throws BenchError(NO_API) when the route does not exist.
 */
export async function putClusters(sidecar, clusters) {
  const res = await sidecar.call('PUT', Routes.clusters, {
    clusters: clusters.map(c => ({
      port: null,
      user: '',
      identityFile: '',
      jumpHost: '',
      transport: 'ssh',
      ...c
    }))
  });
  if (res.status === 404) {
    throw new BenchError(NO_API);
  }
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`PUT ${Routes.clusters}: ${describeAnswer(res)}`);
  }
  return res.body;
}

/** True when the sidecar answers the cluster API (PUT of no clusters is not a 404). */
export async function hasClusterApi(sidecar) {
  const res = await sidecar.call('GET', Routes.clusters);
  return res.status !== 404;
}

/** POST Routes.connect(name); resolves once connected, else throws. */
export async function connectCluster(sidecar, name) {
  const res = await sidecar.call('POST', Routes.connect(name));
  if (res.status !== 200 || res.body?.state !== 'connected') {
    throw new Error(
      `POST ${Routes.connect(name)} did not connect: ${describeAnswer(res)}`
    );
  }
  return res.body;
}

/** POST Routes.run(name) {argv}; resolves with { ms, result: IRunResult }. */
export async function runOnCluster(sidecar, name, argv) {
  const res = await sidecar.call('POST', Routes.run(name), { argv });
  if (res.status !== 200) {
    throw new Error(
      `POST ${Routes.run(name)} ${JSON.stringify(argv)}: ${describeAnswer(res)}`
    );
  }
  return { ms: res.ms, result: res.body };
}

/** POST Routes.clusterForwards(name); resolves with the IForward. */
export async function openForward(sidecar, name, request) {
  const res = await sidecar.call('POST', Routes.clusterForwards(name), request);
  if (res.status < 200 || res.status >= 300) {
    throw new Error(
      `POST ${Routes.clusterForwards(name)}: ${describeAnswer(res)}`
    );
  }
  return res.body;
}

/** DELETE Routes.forward(id). */
export async function closeForward(sidecar, id) {
  const res = await sidecar.call('DELETE', Routes.forward(id));
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`DELETE ${Routes.forward(id)}: ${describeAnswer(res)}`);
  }
}

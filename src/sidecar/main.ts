import type { SidecarEvent } from '../common/api';
import { parseArgs, UsageError } from './args';
import { createSidecarServer, describe } from './api/server';
import { listenOnSocket } from './listen';
import { createLogger, parseLogLevel } from './log';
import type { IServices } from './services';
import { SIDECAR_VERSION } from './version';

/**
 * Entry point. jupyter-server-proxy starts this process on the first request
 * to `<base_url>jupyterlab-hpc/` and restarts it only after a non-zero exit,
 * so every fatal error exits with 1; a requested shutdown exits with 0.
 */
async function main(): Promise<void> {
  process.umask(0o077);
  const log = createLogger(parseLogLevel(process.env.JUPYTERLAB_HPC_LOG_LEVEL));

  process.on('uncaughtException', err => {
    log.error(`fatal: ${describe(err)}`);
    process.exit(1);
  });
  process.on('unhandledRejection', err => {
    log.error(`fatal: ${describe(err)}`);
    process.exit(1);
  });

  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      log.error(err.message);
      process.exit(2);
    }
    throw err;
  }

  // Events go to every open JupyterLab tab; the hub exists once the server does.
  let server: ReturnType<typeof createSidecarServer> | null = null;
  const broadcast = (event: SidecarEvent) => server?.events.broadcast(event);
  let services: Promise<IServices> | null = null;
  // Made on the first request that needs them; tried again if that failed.
  const loadServices = (): Promise<IServices> =>
    (services ??= import('./services')
      .then(m => m.createServices(broadcast, log))
      .catch(err => {
        services = null;
        throw err;
      }));
  server = createSidecarServer({
    version: SIDECAR_VERSION,
    log,
    moreRoutes: async () => (await loadServices()).routes,
    kernelLeases: async () => {
      const { leases } = await loadServices();
      if (!leases) {
        throw new Error('cluster kernels are not available in this sidecar');
      }
      return leases;
    }
  });
  await listenOnSocket(server.http, options.socket);
  log.info(`v${SIDECAR_VERSION} listening (pid ${process.pid})`);

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) {
      return;
    }
    stopping = true;
    log.info(`stopping: ${why}`);
    const force = setTimeout(() => process.exit(0), 3000);
    force.unref();
    void Promise.resolve(services?.then(s => s.close()))
      .then(() => server!.close())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => stop('SIGHUP'));

  // If the Jupyter server dies without signalling us we are re-parented;
  // nothing can reach the socket any more, so leave instead of lingering.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) {
      stop('the Jupyter server went away');
    }
  }, 2000).unref();
}

main().catch(err => {
  process.stderr.write(
    `[jupyterlab-hpc sidecar] ERROR fatal: ${describe(err)}\n`
  );
  process.exit(1);
});

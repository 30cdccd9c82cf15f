/**
 * The two install tasks of issue 4:
 *
 * - install-ipykernel: into an environment that lacks it, with the conda
 *   that owns the environment (or mamba, micromamba, any conda found), else
 *   with the environment's own pip;
 * - install-miniforge: the cluster tutorial's
 *   `bash Miniforge3-Linux-$(uname -m).sh -b -p ~/.local/miniforge`, then
 *   optionally `conda create -n jupyterlab jupyterlab ipykernel`.
 *
 * What can be checked before anything is installed (the prefix is an env,
 * the Miniforge prefix is free, the URL is acceptable) is checked before the
 * task starts, in one round trip, so the request itself fails with its code
 * (env-not-found, conda-exists, installer-url); everything after that is the
 * task's, with its output streamed.
 */
import { DEFAULT_CONDA_SETTINGS } from '../../common/settings';
import type {
  IInstallIpykernelRequest,
  IInstallMiniforgeRequest,
  ITask
} from '../../common/api';
import { SidecarError } from '../errors';
import type { ITransport } from '../transport/types';
import { displayCommand, type TaskManager } from './manager';
import {
  checkMiniforgePrefix,
  DEFAULT_MINIFORGE_PREFIX,
  displayUrl,
  IPYKERNEL_PROBE_SCRIPT,
  ipykernelInstallArgv,
  JUPYTERLAB_ENV,
  MAKE_TEMP_DIR_SCRIPT,
  MINIFORGE_PROBE_SCRIPT,
  parseIpykernelProbe,
  parseMiniforgeProbe,
  REMOVE_PARTIAL_SCRIPT,
  resolveInstallerUrl,
  TEMP_DIR
} from './scripts';

export interface IInstallOptions {
  tasks: TaskManager;
  /** The transport of a target (LOCAL_TARGET or a cluster name); throws unknown-cluster. */
  transport(target: string): ITransport;
  /** Called after an install changed a target's environments. */
  onEnvsChanged?: (target: string) => void | Promise<void>;
  /** For messages: "demo", "this computer". */
  label?: (target: string) => string;
}

/** Seconds a probe may take (a hung NFS home must not hang the request). */
const PROBE_TIMEOUT_SECONDS = 60;

/** Start installing ipykernel into `request.prefix` on `target`. */
export async function startInstallIpykernel(
  options: IInstallOptions,
  target: string,
  request: IInstallIpykernelRequest
): Promise<ITask> {
  const { prefix } = request;
  const transport = options.transport(target);
  const where = options.label?.(target) ?? target;
  const running = options.tasks.findRunning(
    'install-ipykernel',
    target,
    t => t.title === ipykernelTitle(prefix, where)
  );
  if (running) {
    return running;
  }
  const out = await transport.run(
    {
      argv: ['/bin/sh', '-c', IPYKERNEL_PROBE_SCRIPT, 'jlhpc', prefix],
      timeoutSeconds: PROBE_TIMEOUT_SECONDS
    },
    { maxOutputBytes: 64 * 1024 }
  );
  const probe = parseIpykernelProbe(out.stdout.toString('utf8'));
  if (out.exitCode !== 0 || probe.state !== 'env') {
    throw new SidecarError(
      'env-not-found',
      probe.state === 'not-env' && out.exitCode === 0
        ? `${prefix} on ${where} is not an environment: it has neither conda-meta/ nor bin/python.`
        : `There is no environment ${prefix} on ${where}.`
    );
  }
  const install = ipykernelInstallArgv(prefix, probe);
  return options.tasks.start({
    kind: 'install-ipykernel',
    target,
    title: ipykernelTitle(prefix, where),
    prefix,
    step: `Installing ipykernel with ${install.via}`,
    run: async task => {
      await task.run(transport, { argv: install.argv, env: install.env });
      task.step('Checking that ipykernel imports');
      const python = probe.python ?? `${prefix}/bin/python`;
      await task.run(transport, {
        argv: [
          python,
          '-c',
          'import ipykernel; print("ipykernel", ipykernel.__version__, "is installed")'
        ],
        timeoutSeconds: 120
      });
      await notify(options, target, task.write);
    }
  });
}

function ipykernelTitle(prefix: string, where: string): string {
  return `Install ipykernel into ${prefix} on ${where}`;
}

/** Start installing Miniforge (and the jupyterlab env) on a cluster. */
export async function startInstallMiniforge(
  options: IInstallOptions,
  cluster: string,
  request: IInstallMiniforgeRequest
): Promise<ITask> {
  const asked = checkMiniforgePrefix(
    request.prefix || DEFAULT_MINIFORGE_PREFIX
  );
  const template = request.installerUrl || DEFAULT_CONDA_SETTINGS.installerUrl;
  // The template's own mistakes are reported before anything runs.
  resolveInstallerUrl(template, 'x86_64');
  const transport = options.transport(cluster);
  const where = options.label?.(cluster) ?? cluster;

  const out = await transport.run(
    {
      argv: ['/bin/sh', '-c', MINIFORGE_PROBE_SCRIPT, 'jlhpc', asked],
      timeoutSeconds: PROBE_TIMEOUT_SECONDS
    },
    { maxOutputBytes: 64 * 1024 }
  );
  const probe = parseMiniforgeProbe(out.stdout.toString('utf8'));
  if (out.exitCode !== 0 || !probe.prefix.startsWith('/')) {
    throw new SidecarError(
      'command-failed',
      `Could not check ${asked} on ${where}${lastWords(out.stderr)}`
    );
  }
  const prefix = probe.prefix;
  const busy = options.tasks.findRunning(
    'install-miniforge',
    cluster,
    t => t.title === miniforgeTitle(prefix, where)
  );
  if (busy) {
    throw new SidecarError(
      'conda-exists',
      `Miniforge is already being installed into ${prefix} on ${where} (task ${busy.id}).`
    );
  }
  if (probe.exists === 'nonempty' || probe.exists === 'file') {
    throw new SidecarError(
      'conda-exists',
      `${prefix} already exists on ${where}${probe.exists === 'file' ? ' (as a file)' : ' and is not empty'}: Miniforge was not installed. If it is a conda installation, its environments are listed already; otherwise choose another prefix.`
    );
  }
  const url = resolveInstallerUrl(template, probe.arch);
  const shownUrl = displayUrl(url);
  if (!probe.curl && !probe.wget) {
    throw new SidecarError(
      'command-failed',
      `${where} has neither curl nor wget to download the installer with.`
    );
  }
  if (!probe.bash) {
    throw new SidecarError(
      'command-failed',
      `${where} has no bash, which the Miniforge installer needs.`
    );
  }
  const bash = probe.bash;
  const existedEmpty = probe.exists === 'empty';

  return options.tasks.start({
    kind: 'install-miniforge',
    target: cluster,
    title: miniforgeTitle(prefix, where),
    prefix,
    step: 'Downloading the installer',
    run: async task => {
      const made = await task.run(
        transport,
        { argv: ['/bin/sh', '-c', MAKE_TEMP_DIR_SCRIPT] },
        { quiet: true }
      );
      const dir = made.stdout.toString('utf8').trim();
      if (!TEMP_DIR.test(dir)) {
        throw new SidecarError(
          'task-failed',
          `Could not make a private temporary directory on ${where} (mktemp said ${JSON.stringify(dir.slice(0, 200))}).`
        );
      }
      const installer = `${dir}/Miniforge3.sh`;
      let installing = false;
      let installed = false;
      try {
        const download = probe.curl
          ? [probe.curl, '-fL', '--retry', '2', '-o', installer, url]
          : [probe.wget!, '--progress=dot:mega', '-O', installer, url];
        await task.run(
          transport,
          { argv: download },
          { display: displayCommand([...download.slice(0, -1), shownUrl]) }
        );

        task.step('Running the installer');
        if (!existedEmpty) {
          // Claim the prefix first (mkdir fails if anything appeared there
          // meanwhile), so that a failed install only ever removes our own.
          const parent = prefix.slice(0, prefix.lastIndexOf('/')) || '/';
          await task.run(transport, { argv: ['mkdir', '-p', '--', parent] });
          await task.run(transport, { argv: ['mkdir', '--', prefix] });
        }
        installing = true;
        // -u: install into the (empty) directory that exists now.
        await task.run(transport, {
          argv: [bash, installer, '-b', '-u', '-p', prefix]
        });
        installed = true;
      } finally {
        // Runs after a failure or a cancel too: never with the task's signal.
        await cleanUp(task, transport, dir, () =>
          installing && !installed
            ? [
                {
                  argv: [
                    '/bin/sh',
                    '-c',
                    REMOVE_PARTIAL_SCRIPT,
                    'jlhpc',
                    prefix,
                    existedEmpty ? 'empty' : 'new'
                  ]
                }
              ]
            : []
        );
      }
      await notify(options, cluster, task.write);

      if (request.createJupyterlabEnv) {
        task.step(`Creating the ${JUPYTERLAB_ENV} environment`);
        const mamba = await transport.run(
          { argv: ['test', '-x', `${prefix}/bin/mamba`] },
          { signal: task.signal }
        );
        const tool = `${prefix}/bin/${mamba.exitCode === 0 ? 'mamba' : 'conda'}`;
        await task.run(transport, {
          argv: [
            tool,
            'create',
            '-y',
            '-p',
            `${prefix}/envs/${JUPYTERLAB_ENV}`,
            'jupyterlab',
            'ipykernel'
          ]
        });
        await notify(options, cluster, task.write);
      }
      task.step('Done');
    }
  });
}

function miniforgeTitle(prefix: string, where: string): string {
  return `Install Miniforge into ${prefix} on ${where}`;
}

/**
 * Remove the download directory (and what `more` says), whatever happened.
 * Its own failures go into the output; they do not hide the task's error.
 */
async function cleanUp(
  task: { write(text: string): void },
  transport: ITransport,
  dir: string,
  more: () => { argv: string[] }[]
): Promise<void> {
  const commands = [...more(), { argv: ['rm', '-rf', '--', dir] }];
  for (const command of commands) {
    try {
      const out = await transport.run(command, { maxOutputBytes: 16 * 1024 });
      if (out.exitCode !== 0) {
        task.write(
          `Clean-up: ${displayCommand(command.argv)} failed${lastWords(out.stderr)}\n`
        );
      }
    } catch (err) {
      task.write(`Clean-up failed: ${(err as Error).message}\n`);
    }
  }
}

async function notify(
  options: IInstallOptions,
  target: string,
  write: (text: string) => void
): Promise<void> {
  try {
    await options.onEnvsChanged?.(target);
  } catch (err) {
    write(
      `Refreshing the environment list failed: ${(err as Error).message}\n`
    );
  }
}

function lastWords(stderr: Buffer): string {
  const text = stderr.toString('utf8').trim();
  return text ? `: ${text.split('\n').pop()!.slice(0, 300)}` : '.';
}

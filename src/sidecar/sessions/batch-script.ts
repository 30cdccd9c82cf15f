/**
 * The batch job that runs JupyterLab, and the sbatch options for it, from a
 * launch request that `checkLaunchShape` accepted. Pure.
 *
 * User values go to sbatch as separate argv words (never into `#SBATCH`
 * lines, which sbatch parses with its own rules) and into the job script
 * only as single-quoted shell assignments at its top; the rest of the
 * script is the constant job.sh. The job runs in its session directory
 * (`~/.jupyterlab-hpc/sessions/<id>`, 0700), where its log and records go;
 * the log must exist (0600) before sbatch runs, since slurmstepd creates a
 * missing one world-readable.
 */
import type { IJobResources, ILaunchRequest } from '../../common/sessions';
import { quoteArg } from '../shell/quote';
import { formatSlurmDuration, parseWallTime } from '../slurm/duration';
import JOB_BODY from './job.sh';

/** Where sessions keep their files on a cluster, relative to $HOME. */
export const SESSIONS_DIR = '.jupyterlab-hpc/sessions';

/** Every job of ours is named so; `squeue --name` finds them for re-attach. */
export const JOB_NAME_PREFIX = 'jlhpc-';

const SESSION_ID = /^[a-z0-9]{8,32}$/;

export function isSessionId(id: string): boolean {
  return SESSION_ID.test(id);
}

/** `~`, `~/x` → a shell word that expands $HOME at run time; others quoted. */
export function shellPathWord(path: string): string {
  if (path === '' || path === '~') {
    return '"$HOME"';
  }
  if (path.startsWith('~/')) {
    const rest = path.slice(2);
    return rest === '' ? '"$HOME"' : `"$HOME"/${quoteArg(rest)}`;
  }
  return quoteArg(path);
}

export interface IJobScriptOptions {
  sessionId: string;
  request: ILaunchRequest;
  /** Shut JupyterLab down after this long without activity; 0: never. */
  idleShutdownSeconds: number;
}

/** The job script: quoted assignments, then job.sh. */
export function buildJobScript(options: IJobScriptOptions): string {
  const { sessionId, request } = options;
  if (!isSessionId(sessionId)) {
    throw new Error(`Not a session id: ${JSON.stringify(sessionId)}`);
  }
  const idle = Math.max(0, Math.floor(options.idleShutdownSeconds));
  return [
    '#!/bin/bash',
    '# A JupyterLab session of jupyterlab-hpc; see job.sh in its sources.',
    `SESSION_DIR="$HOME"/${quoteArg(`${SESSIONS_DIR}/${sessionId}`)}`,
    `ENV_PREFIX=${quoteArg(request.environment)}`,
    `WORK_DIR=${shellPathWord(request.workingDirectory)}`,
    `IDLE_SHUTDOWN_SECONDS=${idle}`,
    JOB_BODY
  ].join('\n');
}

/** Slurm expands `%` in --output; a literal one is `%%`. */
function outputPattern(path: string): string {
  return path.replace(/%/g, '%%');
}

/**
 * sbatch's argv, to run in the job's directory with the script as its
 * last word. `--parsable` prints `<job id>[;<cluster>]`. The job is named
 * `<namePrefix><id>` (sessions `jlhpc-<id>`, kernel allocations
 * `jlhpc-k-<id>`). An empty wall time or no CPU count (a kernel profile
 * left to the cluster's defaults) passes no option.
 */
export function sbatchArgv(
  sessionId: string,
  request: IJobResources,
  scriptName = 'job.sh',
  namePrefix = JOB_NAME_PREFIX
): string[] {
  if (!isSessionId(sessionId)) {
    throw new Error(`Not a session id: ${JSON.stringify(sessionId)}`);
  }
  if (!namePrefix.startsWith(JOB_NAME_PREFIX)) {
    throw new Error(`Every job of ours is named ${JOB_NAME_PREFIX}…`);
  }
  const argv = [
    'sbatch',
    '--parsable',
    `--job-name=${namePrefix}${sessionId}`,
    `--output=${outputPattern('job.log')}`,
    '--open-mode=append'
  ];
  if (request.wallTime.trim() !== '') {
    argv.push(`--time=${formatSlurmDuration(parseWallTime(request.wallTime))}`);
  }
  argv.push('--nodes=1', '--ntasks=1');
  if (request.cpus > 0) {
    argv.push(`--cpus-per-task=${request.cpus}`);
  }
  if (request.memory !== '') {
    argv.push(`--mem=${request.memory}`);
  }
  if (request.partition !== '') {
    argv.push(`--partition=${request.partition}`);
  }
  if (request.account !== '') {
    argv.push(`--account=${request.account}`);
  }
  if (request.qos !== '') {
    argv.push(`--qos=${request.qos}`);
  }
  if (request.gpus.count > 0) {
    const type = request.gpus.type === '' ? '' : `${request.gpus.type}:`;
    argv.push(`--gres=gpu:${type}${request.gpus.count}`);
  }
  if (request.constraint !== '') {
    argv.push(`--constraint=${request.constraint}`);
  }
  argv.push(scriptName);
  return argv;
}

/** sbatch --parsable's answer: the job id, or null. */
export function parseSbatchParsable(stdout: string): string | null {
  const m = /^(\d+)(;[^\s]*)?\s*$/.exec(stdout.trim().split('\n').pop() ?? '');
  return m ? m[1] : null;
}

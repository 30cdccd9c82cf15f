/**
 * The job that holds an allocation for cluster kernels, and the commands
 * that find such jobs and their steps again. Pure: the caller runs them.
 *
 * The job is named `jlhpc-k-<id>` and runs in its own directory
 * (`~/.jupyterlab-hpc/allocations/<id>`, 0700, log 0600), laid out and
 * submitted by the sessions' submit.sh with the sessions' sbatch argv: user
 * values reach sbatch only as quoted argv words. Its batch script only
 * waits; kernels run in it as `srun --overlap` steps (relay.ts), which may
 * share the CPUs the batch step holds.
 */
import type { IJobResources } from '../../common/sessions';
import type { IRemoteCommand } from '../shell/remote-command';
import { isSessionId, sbatchArgv } from '../sessions/batch-script';
import { submitCommand } from '../sessions/remote';
import { parseUtcOffset } from '../slurm/duration';
import { isJobId } from '../slurm/squeue';

/** Job names of allocations: `jlhpc-k-<allocation id>`. */
export const ALLOCATION_NAME_PREFIX = 'jlhpc-k-';

/** What allocation.json holds beside the job (no secret). */
export interface IAllocationMeta {
  id: string;
  profile: string | null;
  resources: IJobResources;
  createdAt: number;
  /** The computer whose sidecar submitted it. */
  origin: string;
}

export function isAllocationId(id: string): boolean {
  return isSessionId(id);
}

/** The hold job's script: it waits until cancelled or its wall time. */
export function holdScript(id: string): string {
  if (!isAllocationId(id)) {
    throw new Error(`Not an allocation id: ${JSON.stringify(id)}`);
  }
  return [
    '#!/bin/sh',
    '# An allocation of jupyterlab-hpc for cluster kernels: it holds the',
    '# resources; kernels run in it as `srun --overlap` steps. It ends when',
    '# cancelled (by the sidecar after its last kernel, or by scancel) or at',
    '# its wall time.',
    `echo "allocation ${id}: job $SLURM_JOB_ID on $(hostname) since $(date)"`,
    'exec sleep infinity',
    ''
  ].join('\n');
}

/** Lay out the allocation's directory and submit its hold job. */
export function submitAllocationCommand(
  meta: IAllocationMeta,
  resources: IJobResources
): IRemoteCommand {
  return submitCommand(
    meta.id,
    holdScript(meta.id),
    JSON.stringify(meta),
    sbatchArgv(meta.id, resources, 'job.sh', ALLOCATION_NAME_PREFIX),
    'allocations'
  );
}

/**
 * The cluster's UTC offset, then every live job of this user named
 * `jlhpc-k-<id>` with its allocation.json (one line each).
 */
const LIST_SH = `date +%z
out=$(squeue --noheader --user="$(id -un)" --format='%i|%j' 2>&1) || {
  printf '%s\\n' "$out" >&2
  exit 3
}
printf '%s\\n' "$out" | while IFS='|' read -r job name; do
  case $name in ${ALLOCATION_NAME_PREFIX}*) ;; *) continue ;; esac
  id=\${name#${ALLOCATION_NAME_PREFIX}}
  case $id in '' | *[!a-z0-9]*) continue ;; esac
  meta=$(tr -d '\\n' <"$HOME/.jupyterlab-hpc/allocations/$id/allocation.json" 2>/dev/null)
  printf 'alloc %s %s %s\\n' "$job" "$id" "$meta"
done`;

export function listAllocationsCommand(): IRemoteCommand {
  return {
    argv: ['sh', '-c', LIST_SH, 'jlhpc-allocations'],
    timeoutSeconds: 30,
    stdinFromDevNull: true
  };
}

export interface IListedAllocation {
  jobId: string;
  id: string;
  meta: IAllocationMeta | null;
}

/** What listAllocationsCommand printed. */
export function parseAllocationList(stdout: string): {
  utcOffsetMinutes: number;
  allocations: IListedAllocation[];
} {
  const lines = stdout.split('\n');
  let utcOffsetMinutes = 0;
  try {
    utcOffsetMinutes = parseUtcOffset(lines[0] ?? '');
  } catch {
    // no date +%z: times read as UTC
  }
  const allocations: IListedAllocation[] = [];
  for (const line of lines.slice(1)) {
    const m = /^alloc (\d+) ([a-z0-9]{8,32}) ?(.*)$/.exec(line);
    if (!m) {
      continue;
    }
    allocations.push({ jobId: m[1], id: m[2], meta: parseMeta(m[2], m[3]) });
  }
  return { utcOffsetMinutes, allocations };
}

function parseMeta(id: string, text: string): IAllocationMeta | null {
  try {
    const raw = JSON.parse(text) as Partial<IAllocationMeta>;
    const r = raw.resources as Partial<IJobResources> | undefined;
    if (
      raw.id !== id ||
      typeof r !== 'object' ||
      r === null ||
      typeof r.cpus !== 'number' ||
      typeof r.gpus !== 'object'
    ) {
      return null;
    }
    return {
      id,
      profile: typeof raw.profile === 'string' ? raw.profile : null,
      resources: r as IJobResources,
      createdAt: typeof raw.createdAt === 'number' ? raw.createdAt : 0,
      origin: typeof raw.origin === 'string' ? raw.origin : ''
    };
  } catch {
    return null;
  }
}

/** The steps of these jobs (`<job>.<step>`, batch and extern included). */
export function stepsCommand(jobIds: readonly string[]): IRemoteCommand {
  if (jobIds.length === 0 || !jobIds.every(isJobId)) {
    throw new Error(`Not Slurm job ids: ${JSON.stringify(jobIds)}`);
  }
  return {
    argv: [
      'squeue',
      '--steps',
      '--noheader',
      `--jobs=${jobIds.join(',')}`,
      '--format=%i'
    ],
    timeoutSeconds: 30
  };
}

/** The numbered steps (kernels' relays) in what stepsCommand printed. */
export function parseKernelSteps(stdout: string): string[] {
  return stdout
    .split('\n')
    .map(l => l.trim())
    .filter(l => /^\d+\.\d+$/.test(l));
}

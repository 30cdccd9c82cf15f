/**
 * Whether a running job can carry a kernel asked for with some resources:
 * every field the profile names must be met (same partition, account, QOS,
 * GPU type and constraint; at least as many CPUs, as much memory, as many
 * GPUs). A field the profile leaves empty takes whatever the job has. Pure.
 */
import type { IJobResources } from '../../common/sessions';

const UNITS: Record<string, number> = {
  K: 1 / 1024,
  M: 1,
  G: 1024,
  T: 1024 * 1024
};

/** sbatch --mem text (`8G`, `500M`, `4096`: MiB) in MiB; null if not one. */
export function memoryMiB(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT])?B?$/i.exec(text.trim());
  if (!m) {
    return null;
  }
  return Number(m[1]) * UNITS[(m[2] ?? 'M').toUpperCase()];
}

export function fits(wanted: IJobResources, job: IJobResources): boolean {
  const same = (a: string, b: string) => a === '' || a === b;
  if (
    !same(wanted.partition, job.partition) ||
    !same(wanted.account, job.account) ||
    !same(wanted.qos, job.qos) ||
    !same(wanted.constraint, job.constraint)
  ) {
    return false;
  }
  if (wanted.cpus > 0 && !(job.cpus >= wanted.cpus)) {
    return false;
  }
  if (wanted.memory.trim() !== '') {
    const want = memoryMiB(wanted.memory);
    const have = memoryMiB(job.memory);
    // A job of the partition's default memory is not known to be enough.
    if (want === null || have === null || have < want) {
      return false;
    }
  }
  if (wanted.gpus.count > 0) {
    if (job.gpus.count < wanted.gpus.count) {
      return false;
    }
    if (!same(wanted.gpus.type, job.gpus.type)) {
      return false;
    }
  }
  return true;
}

/**
 * Kernel profiles: how a cluster kernel is started. A profile *is* a
 * kernelspec, `<kernels dir>/hpc-<id>/kernel.json`, in the Jupyter data
 * directory of the server the sidecar belongs to, so Jupyter's own kernel
 * picker lists it and the provisioner it names (PROVISIONER_NAME) starts
 * it. The store keeps nothing in memory: the user may edit or delete the
 * files, so every read goes to them.
 *
 * Writes are atomic (a new spec is made in a hidden directory one level
 * down, where Jupyter does not look, then renamed into place; kernel.json
 * is replaced by rename). Only directories holding our own marker are ever
 * changed or removed, and symlinks are never followed out of the kernels
 * directory. No secret is written.
 */
import { randomInt } from 'crypto';
import { promises as fs } from 'fs';
import { join } from 'path';

import {
  CLUSTER_KERNEL_PREFIX,
  LOCAL_TARGET,
  PROVISIONER_NAME,
  type IJobResources,
  type IKernelProfile,
  type IKernelProfileProblem,
  type IKernelProfileRequest
} from '../../common/api';
import { isClusterKernelSpec, MARKER_KEY } from '../conda/kernelspec';
import { SidecarError } from '../errors';
import type { ILogger } from '../log';
import { checkLaunchShape } from '../sessions/launch-check';
import clusterLogoSvg from './cluster-logo.svg';
import { clusterLogoPng } from './logo-png';

/** What a profile id looks like (also the tail of its kernelspec name). */
export const PROFILE_ID = /^[a-z0-9]{8,32}$/;

/** The facts of the environment a new profile runs (from its scan). */
export interface IKernelEnvFacts {
  language: string;
  interruptMode: 'signal' | 'message';
  /** Its name in nb_conda_kernels' scheme: "torch" of "[conda env:torch]". */
  envName: string;
}

/** What we keep under metadata.jupyterlab_hpc: the profile and its env's name. */
interface IMarker extends IKernelProfile {
  envName: string;
}

const ID_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';
const MAX_DISPLAY_NAME = 200;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
/** Where new and removed specs stay while they are made or deleted. */
const TMP_PREFIX = '.jlhpc-tmp-';

export function newProfileId(): string {
  let id = '';
  for (let i = 0; i < 12; i++) {
    id += ID_CHARS[randomInt(ID_CHARS.length)];
  }
  return id;
}

export function specNameOf(id: string): string {
  return `${CLUSTER_KERNEL_PREFIX}${id}`;
}

/** "Python [conda env:torch] on hpc", as nb_conda_kernels names the env. */
export function defaultDisplayName(envName: string, cluster: string): string {
  const where = cluster === LOCAL_TARGET ? 'this computer' : cluster;
  return `Python [conda env:${envName}] on ${where}`;
}

function pickResources(r: IJobResources): IJobResources {
  return {
    partition: r.partition,
    account: r.account,
    qos: r.qos,
    wallTime: r.wallTime,
    cpus: r.cpus,
    memory: r.memory,
    gpus: { type: r.gpus.type, count: r.gpus.count },
    constraint: r.constraint
  };
}

/**
 * Problems of shape alone, the launch form's checks for the resources and
 * paths (so hostile values are refused the same way), plus the name and
 * cluster. Whether the cluster is configured is the caller's to check.
 */
export function checkProfileRequest(
  req: IKernelProfileRequest
): IKernelProfileProblem[] {
  const out: IKernelProfileProblem[] = checkLaunchShape({
    ...req.resources,
    environment: req.environment,
    workingDirectory: req.workingDirectory,
    startTimeoutSeconds: 300
  });
  if (
    req.cluster === '' ||
    req.cluster.length > 200 ||
    CONTROL.test(req.cluster)
  ) {
    out.push({ field: 'cluster', message: 'Choose a configured cluster.' });
  }
  if (
    req.displayName.length > MAX_DISPLAY_NAME ||
    CONTROL.test(req.displayName)
  ) {
    out.push({
      field: 'displayName',
      message: `The name is one line of at most ${MAX_DISPLAY_NAME} characters.`
    });
  }
  return out;
}

/** 400 `profile-invalid`; the routes answer with its problems. */
export class ProfileInvalid extends SidecarError {
  constructor(readonly problems: IKernelProfileProblem[]) {
    super('profile-invalid', problems.map(p => p.message).join(' '));
  }
}

function refuseInvalid(problems: IKernelProfileProblem[]): void {
  if (problems.length > 0) {
    throw new ProfileInvalid(problems);
  }
}

/** The kernel.json of a profile. */
export function kernelJsonOf(
  profile: IKernelProfile,
  envName: string,
  python: string
): Record<string, unknown> {
  const marker: IMarker = { ...profile, envName };
  return {
    // For clients that run argv themselves, skipping the provisioner: the
    // module exits saying where this kernel can be started.
    argv: [python, '-m', 'jupyterlab_hpc.cluster_kernel', '{connection_file}'],
    display_name: profile.displayName,
    language: profile.language,
    interrupt_mode: profile.interruptMode,
    metadata: {
      kernel_provisioner: {
        provisioner_name: PROVISIONER_NAME,
        config: { profile: profile.id }
      },
      [MARKER_KEY]: marker
    }
  };
}

type Parsed = { marker: IMarker } | { error: string };

/**
 * The profile in `<kernels dir>/<dirName>/kernel.json`, or why that file is
 * not one of ours. What the user may have edited (the display name shown in
 * the picker) is taken from the kernelspec itself.
 */
export function parseProfileSpec(dirName: string, text: string): Parsed {
  let spec: Record<string, unknown>;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { error: 'kernel.json is not a JSON object' };
    }
    spec = value as Record<string, unknown>;
  } catch (err) {
    return {
      error: `kernel.json is not valid JSON (${(err as Error).message})`
    };
  }
  if (!isClusterKernelSpec(spec)) {
    return { error: `it does not name the ${PROVISIONER_NAME} provisioner` };
  }
  const metadata = spec.metadata as Record<string, unknown>;
  const m = metadata[MARKER_KEY] as Partial<IMarker> | undefined;
  const config = (metadata.kernel_provisioner as { config?: unknown })
    .config as { profile?: unknown } | undefined;
  if (typeof m !== 'object' || m === null) {
    return { error: `it has no metadata.${MARKER_KEY}` };
  }
  const id = dirName.slice(CLUSTER_KERNEL_PREFIX.length);
  if (m.id !== id || config?.profile !== id || m.specName !== dirName) {
    return {
      error: `its profile id does not match the directory name ${dirName}`
    };
  }
  const r = m.resources as Partial<IJobResources> | undefined;
  const text_ = (v: unknown): v is string => typeof v === 'string';
  if (
    !text_(m.cluster) ||
    !text_(m.environment) ||
    !text_(m.workingDirectory) ||
    !text_(m.envName) ||
    typeof m.createdAt !== 'number' ||
    typeof m.updatedAt !== 'number' ||
    typeof r !== 'object' ||
    r === null ||
    typeof r.gpus !== 'object' ||
    r.gpus === null ||
    typeof r.gpus.type !== 'string' ||
    typeof r.gpus.count !== 'number' ||
    ![r.partition, r.account, r.qos, r.wallTime, r.memory, r.constraint].every(
      text_
    ) ||
    typeof r.cpus !== 'number'
  ) {
    return { error: `metadata.${MARKER_KEY} is not a kernel profile` };
  }
  const displayName = text_(spec.display_name) ? spec.display_name : '';
  const profile: IKernelProfile = {
    id,
    cluster: m.cluster,
    environment: m.environment,
    displayName,
    resources: pickResources(r as IJobResources),
    workingDirectory: m.workingDirectory,
    language: text_(spec.language) ? spec.language : 'python',
    interruptMode: spec.interrupt_mode === 'message' ? 'message' : 'signal',
    specName: dirName,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt
  };
  const problems = checkProfileRequest(profile);
  if (displayName.trim() === '') {
    problems.push({ field: 'displayName', message: 'It has no name.' });
  }
  if (problems.length > 0) {
    return {
      error: `its profile is refused: ${problems.map(p => p.message).join(' ')}`
    };
  }
  return { marker: { ...profile, envName: m.envName } };
}

function stripMarker(m: IMarker): IKernelProfile {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { envName, ...profile } = m;
  return profile;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export interface IKernelProfileStoreOptions {
  /** `$JUPYTERLAB_HPC_JUPYTER_DATA_DIR/kernels`; null when unknown. */
  kernelsDir: string | null;
  now?: () => number;
  /** `$JUPYTERLAB_HPC_PYTHON`, for the fallback argv (default python3). */
  localPython?: string;
  log?: ILogger;
}

export class KernelProfileStore {
  constructor(o: IKernelProfileStoreOptions) {
    this._dir = o.kernelsDir;
    this._now = o.now ?? Date.now;
    this._python = o.localPython || 'python3';
    this._log = o.log ?? null;
  }

  /** Every profile whose kernelspec is readable; others are skipped (logged once). */
  async list(): Promise<IKernelProfile[]> {
    const dir = this._kernelsDir();
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (err) {
      if (isMissing(err)) {
        return [];
      }
      throw err;
    }
    const out: IKernelProfile[] = [];
    for (const name of names.sort()) {
      if (
        !name.startsWith(CLUSTER_KERNEL_PREFIX) ||
        !PROFILE_ID.test(name.slice(CLUSTER_KERNEL_PREFIX.length))
      ) {
        continue;
      }
      const read = await this._read(dir, name);
      if ('marker' in read) {
        out.push(stripMarker(read.marker));
      } else if (read.error !== null) {
        this._warnOnce(join(dir, name), read.error);
      }
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** The profile of that id, read from its kernel.json now; null if none. */
  async get(id: string): Promise<IKernelProfile | null> {
    if (this._dir === null || !PROFILE_ID.test(id)) {
      return null;
    }
    const read = await this._read(this._dir, specNameOf(id));
    return 'marker' in read ? stripMarker(read.marker) : null;
  }

  /** Write the kernelspec of a new profile for an env with these facts. */
  add(
    req: IKernelProfileRequest,
    facts: IKernelEnvFacts
  ): Promise<IKernelProfile> {
    return this._serial(async () => {
      const dir = this._kernelsDir();
      refuseInvalid(checkProfileRequest(req));
      const id = newProfileId();
      const now = this._now();
      const profile: IKernelProfile = {
        id,
        cluster: req.cluster,
        environment: req.environment,
        displayName:
          req.displayName.trim() === ''
            ? defaultDisplayName(facts.envName, req.cluster)
            : req.displayName,
        resources: pickResources(req.resources),
        workingDirectory: req.workingDirectory,
        language: facts.language || 'python',
        interruptMode: facts.interruptMode,
        specName: specNameOf(id),
        createdAt: now,
        updatedAt: now
      };
      await fs.mkdir(dir, { recursive: true, mode: 0o755 });
      const tmp = await fs.mkdtemp(join(dir, TMP_PREFIX));
      try {
        const staged = join(tmp, profile.specName);
        await fs.mkdir(staged, { mode: 0o755 });
        await this._writeFile(
          join(staged, 'kernel.json'),
          this._text(profile, facts.envName)
        );
        await this._writeFile(join(staged, 'logo-svg.svg'), clusterLogoSvg);
        await this._writeFile(join(staged, 'logo-64x64.png'), clusterLogoPng());
        await fs.rename(staged, join(dir, profile.specName));
      } catch (err) {
        throw new SidecarError(
          'kernel-write-failed',
          `The kernelspec ${join(dir, profile.specName)} could not be written: ${(err as Error).message}`
        );
      } finally {
        await fs.rm(tmp, { recursive: true, force: true });
      }
      this._log?.info(
        `added kernel profile ${profile.specName} for ${profile.environment} on ${profile.cluster}`
      );
      return profile;
    });
  }

  /**
   * Change a profile's resources, working directory and name. Its cluster
   * and environment stay (the env's facts made the spec): a different one
   * is a new profile.
   */
  update(id: string, req: IKernelProfileRequest): Promise<IKernelProfile> {
    return this._serial(async () => {
      const dir = this._kernelsDir();
      const marker = await this._ours(dir, id);
      const problems = checkProfileRequest(req);
      if (req.cluster !== marker.cluster) {
        problems.push({
          field: 'cluster',
          message: `The profile runs on ${marker.cluster}: add a new profile for another cluster.`
        });
      }
      if (req.environment !== marker.environment) {
        problems.push({
          field: 'environment',
          message: `The profile runs ${marker.environment}: add a new profile for another environment.`
        });
      }
      refuseInvalid(problems);
      const profile: IKernelProfile = {
        ...stripMarker(marker),
        displayName:
          req.displayName.trim() === ''
            ? defaultDisplayName(marker.envName, marker.cluster)
            : req.displayName,
        resources: pickResources(req.resources),
        workingDirectory: req.workingDirectory,
        updatedAt: Math.max(this._now(), marker.updatedAt)
      };
      const file = join(dir, marker.specName, 'kernel.json');
      const tmp = `${file}${TMP_PREFIX}${newProfileId()}`;
      try {
        await this._writeFile(tmp, this._text(profile, marker.envName));
        await fs.rename(tmp, file);
      } catch (err) {
        await fs.rm(tmp, { force: true });
        if (isMissing(err)) {
          throw this._notFound(id);
        }
        throw new SidecarError(
          'kernel-write-failed',
          `The kernelspec ${file} could not be written: ${(err as Error).message}`
        );
      }
      return profile;
    });
  }

  /** Remove the profile's kernelspec directory (only one of ours). */
  remove(id: string): Promise<void> {
    return this._serial(async () => {
      const dir = this._kernelsDir();
      const marker = await this._ours(dir, id);
      // Out of Jupyter's sight at once (one rename), then deleted.
      const tmp = await fs.mkdtemp(join(dir, TMP_PREFIX));
      try {
        await fs.rename(join(dir, marker.specName), join(tmp, marker.specName));
      } catch (err) {
        await fs.rm(tmp, { recursive: true, force: true });
        if (isMissing(err)) {
          throw this._notFound(id);
        }
        throw new SidecarError(
          'kernel-write-failed',
          `The kernelspec ${join(dir, marker.specName)} could not be removed: ${(err as Error).message}`
        );
      }
      // rm does not follow symlinks inside: it removes the links.
      await fs.rm(tmp, { recursive: true, force: true });
      this._log?.info(`removed kernel profile ${marker.specName}`);
    });
  }

  /** Read `<dir>/<name>`: a real directory (no symlink) holding our kernel.json. */
  private async _read(
    dir: string,
    name: string
  ): Promise<Parsed | { error: null }> {
    const specDir = join(dir, name);
    let text: string;
    try {
      const st = await fs.lstat(specDir);
      if (!st.isDirectory()) {
        return { error: 'it is not a directory (a symlink is not followed)' };
      }
      const file = join(specDir, 'kernel.json');
      const fst = await fs.lstat(file);
      if (!fst.isFile()) {
        return { error: 'its kernel.json is not a plain file' };
      }
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if (isMissing(err)) {
        return { error: null };
      }
      return { error: (err as Error).message };
    }
    return parseProfileSpec(name, text);
  }

  /** The marker of profile `id`, or profile-not-found. */
  private async _ours(dir: string, id: string): Promise<IMarker> {
    if (!PROFILE_ID.test(id)) {
      throw this._notFound(id);
    }
    const read = await this._read(dir, specNameOf(id));
    if (!('marker' in read)) {
      throw this._notFound(id, read.error);
    }
    return read.marker;
  }

  private _notFound(id: string, why: string | null = null): SidecarError {
    return new SidecarError(
      'profile-not-found',
      why === null
        ? `There is no kernel profile ${id}.`
        : `The kernelspec ${specNameOf(id)} is not a kernel profile of jupyterlab-hpc (${why}), so it is left alone.`
    );
  }

  private _kernelsDir(): string {
    if (this._dir === null) {
      throw new SidecarError(
        'kernels-dir-unknown',
        'Cluster kernels cannot be added: the Jupyter data directory is unknown (the sidecar was not started by the jupyterlab-hpc server extension, which sets JUPYTERLAB_HPC_JUPYTER_DATA_DIR).'
      );
    }
    return this._dir;
  }

  private _text(profile: IKernelProfile, envName: string): string {
    return (
      JSON.stringify(kernelJsonOf(profile, envName, this._python), null, 1) +
      '\n'
    );
  }

  private async _writeFile(path: string, data: string | Buffer): Promise<void> {
    // `wx`: never through an existing file or link.
    await fs.writeFile(path, data, { mode: 0o644, flag: 'wx' });
  }

  private _warnOnce(path: string, why: string): void {
    const key = `${path}\0${why}`;
    if (!this._warned.has(key)) {
      this._warned.add(key);
      this._log?.warn(`kernelspec ${path} is skipped: ${why}`);
    }
  }

  /** One change at a time: a remove never races an update of the same spec. */
  private _serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this._queue.then(task, task);
    this._queue = run.catch(() => undefined);
    return run;
  }

  private readonly _dir: string | null;
  private readonly _now: () => number;
  private readonly _python: string;
  private readonly _log: ILogger | null;
  private readonly _warned = new Set<string>();
  private _queue: Promise<unknown> = Promise.resolve();
}

/**
 * The one POSIX sh program (collect.sh) that collects, in ONE command (one
 * round trip on a cluster), the raw facts conda itself keeps about a user's
 * environments.
 * It interprets nothing it does not have to: `facts.ts` reads its output and
 * `build.ts` turns that into an IEnvironmentList.
 *
 * What it reads (see FACTS.md, "conda, mamba, micromamba"):
 * - install roots: from $CONDA_EXE, $MAMBA_ROOT_PREFIX, $CONDA_PREFIX, the
 *   caller's `@r` hints and the usual places (~/.local/miniforge as in the
 *   cluster tutorial, ~/miniforge3, ~/mambaforge, ~/miniconda3, ...); a root
 *   is a directory with conda-meta/.
 * - `envs_dirs` (and its old name `envs_path`) of every .condarc/.mambarc
 *   conda reads, $CONDA_ENVS_PATH, $CONDA_ENVS_DIRS, `<root>/envs` and
 *   ~/.conda/envs; every subdirectory of those is looked at.
 * - ~/.conda/environments.txt, which lists envs made with `-p` elsewhere.
 * - for every env: whether conda-meta/ and bin/python are there, the NAMES
 *   of the conda-meta records of python, ipykernel and jupyterlab (their
 *   versions are in the names) and its share/jupyter/kernels/*\/kernel.json.
 * - kernelspec directories (the caller's `@ka` list, or Jupyter's defaults).
 *
 * Speed: 500 envs must take well under 150 ms, so nothing forks per env:
 * globs, `[ ]`, `case` and `printf` are builtins. Files are read with one
 * `cat` each only where there are few (environments.txt, .condarc); all
 * kernel.json files are read by ONE `grep` at the end.
 *
 * Safety: paths are data. The program is constant; the caller's values come
 * in as arguments (quoted by quote.ts on the way), and nothing is ever
 * `eval`ed. `set -f` is on whenever text is split into words.
 *
 * # Arguments
 *
 * Words starting with `@` switch the meaning of the absolute paths after
 * them: `@ka` kernelspec directories (replacing Jupyter's default list),
 * `@e` env prefixes the caller knows of ($CONDA_PREFIX of the Jupyter
 * server), `@c` env prefixes only `conda env list` knew, `@j` the JupyterLab
 * env a cluster's settings name by path, `@r` install roots, `@x`
 * conda/mamba/micromamba executables. `@tools` stops after the H, V, X, W
 * and R records (for Test connection).
 *
 * # Output
 *
 * Records of NUL-terminated fields, the first naming the record; each kind
 * has a fixed number of fields:
 *
 *     H home                     V name value          X tool path
 *     W tool (PATH finds it by name)
 *     R root origin              D envs-dir origin     C file ok|unreadable
 *     T environments.txt-line    K kernels-dir role    S kernels-dir name
 *     P prefix origin flags python ipykernel jupyterlab
 *     G                          (the rest is grep output: file NUL line LF)
 *
 * P flags: x directory exists, n it cannot be entered, m conda-meta/ is a
 * directory, u conda-meta/ cannot be listed, p bin/python is executable.
 * python/ipykernel/jupyterlab: conda-meta file names, '/'-separated; for
 * ipykernel and jupyterlab installed by pip, the `<pkg>-<version>.dist-info`
 * directory name instead.
 *
 * Roots, envs dirs and kernels dirs whose path holds a newline are skipped
 * (they are kept in newline-separated lists); env prefixes may hold any byte.
 */
import type { IRemoteCommand } from '../shell/remote-command';
import collectSh from './collect.sh';

export const COLLECT_SCRIPT = collectSh;

export interface ICollectHints {
  /** Kernelspec directories to look in, instead of Jupyter's defaults. */
  kernelDirs?: readonly string[];
  /** Env prefixes the sidecar knows of ($CONDA_PREFIX of the Jupyter server). */
  envPrefixes?: readonly string[];
  /** Env prefixes only `conda env list` knew. */
  condaPrefixes?: readonly string[];
  /** The JupyterLab env's prefix, when a setting gives it as a path. */
  jupyterlabPrefix?: string | null;
  /** Install roots, and conda/mamba/micromamba executables. */
  roots?: readonly string[];
  executables?: readonly string[];
  /** Only the executables and roots, not the environments. */
  toolsOnly?: boolean;
}

/** The command that runs COLLECT_SCRIPT with `hints` as its arguments. */
export function collectCommand(hints: ICollectHints = {}): IRemoteCommand {
  const args: string[] = hints.toolsOnly ? ['@tools'] : [];
  const add = (marker: string, paths: readonly string[] | undefined) => {
    const absolute = (paths ?? []).filter(p => p.startsWith('/'));
    if (absolute.length) {
      args.push(marker, ...absolute);
    }
  };
  add('@ka', hints.kernelDirs);
  add('@r', hints.roots);
  add('@x', hints.executables);
  add('@e', hints.envPrefixes);
  add('@c', hints.condaPrefixes);
  add('@j', hints.jupyterlabPrefix ? [hints.jupyterlabPrefix] : []);
  // /bin/sh, not the login shell: dash where it is /bin/sh runs this about
  // twice as fast as bash.
  return { argv: ['/bin/sh', '-c', COLLECT_SCRIPT, 'jlhpc-envs', ...args] };
}

/**
 * What the install tasks run on a target, and how its answers are read.
 * Pure: the shell scripts are fixed texts (the .sh files beside this one) that take every path, name and URL
 * as a positional argument (quoted by quote.ts on the way), so no caller
 * text is ever part of shell syntax.
 */
import { SidecarError } from '../errors';
import ipykernelProbeSh from './ipykernel-probe.sh';
import makeTempDirSh from './make-temp-dir.sh';
import miniforgeProbeSh from './miniforge-probe.sh';
import removePartialSh from './remove-partial.sh';

/** The tutorial's location for Miniforge. */
export const DEFAULT_MINIFORGE_PREFIX = '~/.local/miniforge';

/** The environment the tutorial creates for JupyterLab. */
export const JUPYTERLAB_ENV = 'jupyterlab';

const TOOLS = ['mamba', 'conda', 'micromamba'] as const;
export type CondaTool = (typeof TOOLS)[number];

/**
 * Checks that $1 is an environment prefix and lists the package managers
 * that could install into it, best first (one `tool=` line each):
 *
 * 1. those of the env's own install root: `<root>` for `<root>/envs/<name>`,
 *    else the prefix itself (a base env), in `bin/` and `condabin/`;
 * 2. mamba, conda, micromamba on the login environment's PATH (absolute
 *    paths only: `conda` may be the shell function `conda init` defines);
 * 3. $CONDA_EXE and $MAMBA_EXE;
 * 4. the tutorial's ~/.local/miniforge.
 *
 * `state=` is `missing` (no such directory), `not-env` (neither conda-meta/
 * nor bin/python) or `env`.
 */
export const IPYKERNEL_PROBE_SCRIPT = ipykernelProbeSh;

export interface IIpykernelProbe {
  state: 'missing' | 'not-env' | 'env';
  python: string | null;
  /** Absolute paths, best first, without repeats. */
  tools: string[];
}

export function parseIpykernelProbe(stdout: string): IIpykernelProbe {
  const probe: IIpykernelProbe = { state: 'missing', python: null, tools: [] };
  for (const [key, value] of keyValues(stdout)) {
    if (
      key === 'state' &&
      (value === 'missing' || value === 'not-env' || value === 'env')
    ) {
      probe.state = value;
    } else if (key === 'python' && value.startsWith('/')) {
      probe.python = value;
    } else if (
      key === 'tool' &&
      value.startsWith('/') &&
      !probe.tools.includes(value)
    ) {
      probe.tools.push(value);
    }
  }
  return probe;
}

/** mamba, conda or micromamba, from the program's file name. */
export function toolKind(path: string): CondaTool | null {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return (TOOLS as readonly string[]).includes(name)
    ? (name as CondaTool)
    : null;
}

/**
 * The command that installs ipykernel into `prefix`: the first conda-like
 * tool found, else the env's own pip.
 */
export function ipykernelInstallArgv(
  prefix: string,
  probe: IIpykernelProbe
): { argv: string[]; env: Record<string, string>; via: string } {
  const tool = probe.tools.find(t => toolKind(t) !== null);
  if (tool) {
    return {
      argv: [tool, 'install', '-y', '-p', prefix, 'ipykernel'],
      env: {},
      via: toolKind(tool)!
    };
  }
  return {
    argv: [
      probe.python ?? `${prefix}/bin/python`,
      '-m',
      'pip',
      'install',
      '--progress-bar',
      'off',
      'ipykernel'
    ],
    env: { PIP_NO_INPUT: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1' },
    via: 'pip'
  };
}

/**
 * Resolves $1 (`~`, `~/…` or absolute) against $HOME and reports what the
 * Miniforge install needs to know, one `key=value` line each: the prefix,
 * whether it exists (`no`, `empty` directory, `nonempty`, `file`), the
 * machine (`uname -m`) and where curl, wget and bash are.
 */
export const MINIFORGE_PROBE_SCRIPT = miniforgeProbeSh;

export interface IMiniforgeProbe {
  prefix: string;
  exists: 'no' | 'empty' | 'nonempty' | 'file';
  arch: string;
  curl: string | null;
  wget: string | null;
  bash: string | null;
}

export function parseMiniforgeProbe(stdout: string): IMiniforgeProbe {
  const probe: IMiniforgeProbe = {
    prefix: '',
    exists: 'no',
    arch: '',
    curl: null,
    wget: null,
    bash: null
  };
  for (const [key, value] of keyValues(stdout)) {
    switch (key) {
      case 'prefix':
      case 'arch':
        probe[key] = value;
        break;
      case 'exists':
        if (
          value === 'no' ||
          value === 'empty' ||
          value === 'nonempty' ||
          value === 'file'
        ) {
          probe.exists = value;
        }
        break;
      case 'curl':
      case 'wget':
      case 'bash':
        if (value.startsWith('/')) {
          probe[key] = value;
        }
        break;
    }
  }
  return probe;
}

/** Makes a private directory for the download; prints its path. */
export const MAKE_TEMP_DIR_SCRIPT = makeTempDirSh;

/** What MAKE_TEMP_DIR_SCRIPT may print: checked before it is ever removed. */
export const TEMP_DIR = /^\/(?:[^\n]*\/)?jlhpc-miniforge\.[A-Za-z0-9]{8}$/;

/**
 * Removes a partly installed prefix after a failed or cancelled install, and
 * makes the empty directory again when it had been one ($2 = `empty`).
 */
export const REMOVE_PARTIAL_SCRIPT = removePartialSh;

/**
 * Checks a prefix the user gave for Miniforge: `~`, `~/…` or an absolute
 * path, without whitespace (conda's installers refuse it) or control
 * characters. Throws a SidecarError 'bad-request'.
 */
export function checkMiniforgePrefix(prefix: string): string {
  if (
    prefix === '' ||
    prefix.length > 1024 ||
    // eslint-disable-next-line no-control-regex
    /[\s\x00-\x1f\x7f]/.test(prefix) ||
    !(prefix === '~' || prefix.startsWith('~/') || prefix.startsWith('/')) ||
    prefix.split('/').some(part => part === '..')
  ) {
    throw new SidecarError(
      'bad-request',
      'The Miniforge prefix must be an absolute path or start with ~/, without spaces or "..": conda cannot be installed into a path with spaces.'
    );
  }
  const trimmed = prefix.replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '~') {
    throw new SidecarError(
      'bad-request',
      'Miniforge cannot be installed into / or the home directory itself; use a directory such as ~/.local/miniforge.'
    );
  }
  return trimmed;
}

/**
 * The installer URL for a machine: `{arch}` replaced by `uname -m`. Only
 * http and https, one line without whitespace. Throws a SidecarError
 * 'installer-url' that says what is wrong.
 */
export function resolveInstallerUrl(template: string, arch: string): string {
  const bad = (why: string) =>
    new SidecarError(
      'installer-url',
      `The Miniforge installer URL ${why}. Set conda.installerUrl in the HPC settings to an http(s) URL of Miniforge3-Linux-{arch}.sh (or your site's mirror of it).`
    );
  // eslint-disable-next-line no-control-regex
  if (template.length > 2048 || /[\s\x00-\x1f\x7f]/.test(template)) {
    throw bad('must be one URL without spaces');
  }
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(arch)) {
    throw bad(`cannot be made for this machine (uname -m said "${arch}")`);
  }
  const url = template.split('{arch}').join(arch);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad(`is not a URL: ${displayUrl(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw bad(`must start with http:// or https:// (it is ${parsed.protocol})`);
  }
  if (parsed.hostname === '') {
    throw bad('has no host name');
  }
  return url;
}

/**
 * A URL as it may be shown and logged: no user name or password, no query
 * string or fragment (they may carry tokens of a site's mirror).
 */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    const cut = u.search || u.hash ? '?…' : '';
    return `${u.protocol}//${u.host}${u.pathname}${cut}`;
  } catch {
    const end = url.search(/[?#]/);
    return (end < 0 ? url : url.slice(0, end)).slice(0, 200);
  }
}

/** `key=value` lines; a value may contain `=`. */
function* keyValues(text: string): Generator<[string, string]> {
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) {
      yield [line.slice(0, at), line.slice(at + 1)];
    }
  }
}

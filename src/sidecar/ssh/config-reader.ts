/**
 * Reading ssh_config files: the user's and the system's, each parsed once
 * and cached, and the files an Include names (relative to ~/.ssh or the
 * system config's directory, `~` expanded, globbed), with OpenSSH's limits
 * on loops and depth.
 */
import { readdirSync, readFileSync } from 'fs';
import { dirname, isAbsolute, normalize } from 'path';

import { displayPath } from '../paths';
import {
  describeLocation,
  ISshConfigLocation,
  SshConfigError
} from './config-errors';
import { expandTilde, globPaths } from './config-expand';
import { IConfigLine, parseConfigText } from './config-syntax';
import type { ISshConfigFiles } from './config-types';

/** OpenSSH's READCONF_MAX_DEPTH. */
export const MAX_INCLUDE_DEPTH = 16;

function defaultReadFile(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return null;
    }
    if (code === 'EISDIR') {
      return '';
    }
    throw err;
  }
}

function defaultListDir(path: string): string[] | null {
  try {
    return readdirSync(path);
  } catch {
    return null;
  }
}

/** Reads, parses and caches config files; resolves Include paths. */
export class ConfigReader {
  constructor(
    private readonly files: ISshConfigFiles,
    private readonly localUser: string
  ) {
    this.home = files.home;
    this.readFile = files.readFile ?? defaultReadFile;
    this.listDir = files.listDir ?? defaultListDir;
  }

  readonly home: string;

  /** The user's config and the system config, in the order ssh reads them. */
  topFiles(): { path: string; system: boolean }[] {
    const top = [
      {
        path: this.files.configPath ?? `${this.home}/.ssh/config`,
        system: false
      }
    ];
    const system =
      this.files.systemConfigPath === undefined
        ? '/etc/ssh/ssh_config'
        : this.files.systemConfigPath;
    if (system !== null) {
      top.push({ path: system, system: true });
    }
    return top;
  }

  /** The directive lines of a file, or null when it does not exist. */
  lines(path: string): IConfigLine[] | null {
    if (this.cache.has(path)) {
      return this.cache.get(path)!;
    }
    let text: string | null;
    try {
      text = this.readFile(path);
    } catch (err) {
      if (err instanceof SshConfigError) {
        throw err;
      }
      const reason = err instanceof Error ? err.message : String(err);
      throw new SshConfigError(
        'ssh-config-unreadable',
        `Cannot read ${displayPath(path, this.home)} (${reason}). ` +
          'Make it readable by you, or remove it.'
      );
    }
    const lines = text === null ? null : parseConfigText(text, path, this.home);
    this.cache.set(path, lines);
    return lines;
  }

  /**
   * The files an Include argument names, already token-expanded: relative
   * to ~/.ssh (or the system config's directory), `~` expanded, globbed.
   */
  includedFiles(
    arg: string,
    system: boolean,
    location: ISshConfigLocation
  ): string[] {
    const where = describeLocation(location, this.home);
    if (arg.startsWith('~') && system) {
      throw new SshConfigError(
        'ssh-config-syntax',
        `${where}: the system config cannot Include "${arg}" (a path ` +
          'with ~).',
        location
      );
    }
    let path = arg;
    if (!isAbsolute(path) && !path.startsWith('~')) {
      path = system
        ? `${dirname(this.topFiles()[1]?.path ?? '/etc/ssh/ssh_config')}/${path}`
        : `~/.ssh/${path}`;
    }
    const expanded = expandTilde(path, this.home, this.localUser);
    if (expanded === null) {
      throw new SshConfigError(
        'ssh-config-bad-value',
        `${where}: Include "${arg}" names another user's home directory, ` +
          'which is not supported here. Write the full path instead.',
        location
      );
    }
    // Normalised, so that `~/.ssh/./config` is seen to be `~/.ssh/config`.
    return globPaths(expanded, this.listDir).map(f => normalize(f));
  }

  /** Throws when including `file` would loop or nest too deep. */
  checkNesting(
    file: string,
    depth: number,
    stack: readonly string[],
    location: ISshConfigLocation
  ): void {
    const where = describeLocation(location, this.home);
    if (stack.includes(file)) {
      const chain = [...stack.slice(stack.indexOf(file)), file]
        .map(f => displayPath(f, this.home))
        .join(' → ');
      throw new SshConfigError(
        'ssh-config-include-loop',
        `${where}: Include loop: ${chain}. Remove one of these Include lines.`,
        location
      );
    }
    if (depth + 1 > MAX_INCLUDE_DEPTH) {
      throw new SshConfigError(
        'ssh-config-include-depth',
        `${where}: Includes are nested more than ${MAX_INCLUDE_DEPTH} deep ` +
          `(at ${displayPath(file, this.home)}), which OpenSSH refuses. ` +
          'Flatten your Include lines.',
        location
      );
    }
  }

  private readonly readFile: (path: string) => string | null;
  private readonly listDir: (path: string) => string[] | null;
  private readonly cache = new Map<string, IConfigLine[] | null>();
}

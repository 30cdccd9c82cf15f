import { spawnSync } from 'child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

import { probeLoginEnvironment } from '../../../src/sidecar/clusters/test-connection';
import type {
  ICommandOutput,
  IRemoteCommand
} from '../../../src/sidecar/shell/remote-command';

/*
 * "Test connection" runs its probes for real with /bin/sh in a scratch home
 * laid out like an install that the login PATH does not know of.
 */
let home: string;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'jlhpc-test-conn-'));
});

afterAll(() => rmSync(home, { recursive: true, force: true }));

function runner(path: string) {
  return async (command: IRemoteCommand): Promise<ICommandOutput> => {
    const r = spawnSync(command.argv[0], command.argv.slice(1), {
      env: { HOME: home, PATH: path, SHELL: '/bin/bash' }
    });
    return {
      nonce: '',
      stdout: r.stdout,
      stderr: r.stderr,
      exitCode: r.status,
      stdoutBytes: r.stdout.length,
      stderrBytes: r.stderr.length,
      stdoutTruncated: false,
      stderrTruncated: false
    };
  };
}

function install(root: string, exe: string): string {
  mkdirSync(join(root, 'conda-meta'), { recursive: true });
  mkdirSync(join(root, 'bin'), { recursive: true });
  writeFileSync(join(root, 'bin', exe), '#!/bin/sh\n', { mode: 0o755 });
  return join(root, 'bin', exe);
}

describe('probeLoginEnvironment', () => {
  it('reports the package managers of the install roots the environment scan knows, not only those on PATH', async () => {
    // micromamba's default root, where `conda init` was never run.
    const micromamba = install(
      join(home, '.local', 'share', 'mamba'),
      'micromamba'
    );
    const found = await probeLoginEnvironment(runner('/usr/bin:/bin'));
    expect(found.tools).toEqual({ conda: null, mamba: null, micromamba });
    expect(found.toolsOnPath).toEqual([]);
    expect(found.shell).toBe('/bin/bash');
    expect(found.remoteHost).not.toBe('');
  });

  it('says which ones the login PATH finds by name', async () => {
    const conda = install(join(home, 'miniforge3'), 'conda');
    const found = await probeLoginEnvironment(
      runner(`${join(home, 'miniforge3', 'bin')}:/usr/bin:/bin`)
    );
    expect(found.tools.conda).toBe(conda);
    expect(found.toolsOnPath).toEqual(['conda']);
  });

  it('still reports the rest when the package manager scan is cut short', async () => {
    const run = runner('/usr/bin:/bin');
    const found = await probeLoginEnvironment(async command => {
      const out = await run(command);
      return command.argv.includes('@tools')
        ? { ...out, stdout: out.stdout.subarray(0, 3) }
        : out;
    });
    expect(found.tools).toEqual({ conda: null, mamba: null, micromamba: null });
    expect(found.remoteHost).not.toBe('');
  });
});

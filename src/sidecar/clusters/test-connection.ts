import type { IConnectionTest } from '../../common/api';

/**
 * One POSIX sh script for "Test connection": what the login environment
 * finds, as `key=value` lines. conda and mamba are often shell functions
 * (after `conda init`) that a child shell does not see, so their usual
 * variables and install roots are looked at too.
 */
export const TEST_SCRIPT = `
printf 'host=%s\\n' "$(hostname 2>/dev/null || uname -n)"
printf 'shell=%s\\n' "\${SHELL:-}"
for tool in conda mamba micromamba; do
  found=$(command -v "$tool" 2>/dev/null) && case $found in
    /*) printf '%s=%s\\n' "$tool" "$found" ;;
  esac
done
[ -n "\${CONDA_EXE:-}" ] && [ -x "$CONDA_EXE" ] && printf 'conda=%s\\n' "$CONDA_EXE"
[ -n "\${MAMBA_EXE:-}" ] && [ -x "$MAMBA_EXE" ] && printf 'micromamba=%s\\n' "$MAMBA_EXE"
for root in "$HOME/.local/miniforge" "$HOME/miniforge3" "$HOME/mambaforge" \\
  "$HOME/miniconda3" "$HOME/anaconda3" "$HOME/micromamba" "$HOME/.local"; do
  for tool in conda mamba micromamba; do
    [ -x "$root/bin/$tool" ] && [ -f "$root/bin/$tool" ] && printf '%s=%s\\n' "$tool" "$root/bin/$tool"
  done
done
version=$(sinfo --version 2>/dev/null) && printf 'slurm=%s\\n' "$version"
exit 0
`;

export type ITestFindings = Pick<
  IConnectionTest,
  'slurmVersion' | 'tools' | 'remoteHost' | 'shell'
>;

/** Read TEST_SCRIPT's output; the first path found for a tool wins. */
export function parseTestOutput(stdout: string): ITestFindings {
  const found: ITestFindings = {
    slurmVersion: null,
    tools: { conda: null, mamba: null, micromamba: null },
    remoteHost: '',
    shell: ''
  };
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at < 0) {
      continue;
    }
    const key = line.slice(0, at);
    const value = line.slice(at + 1).trim();
    switch (key) {
      case 'host':
        found.remoteHost = value;
        break;
      case 'shell':
        found.shell = value;
        break;
      case 'slurm':
        found.slurmVersion = value || null;
        break;
      case 'conda':
      case 'mamba':
      case 'micromamba':
        found.tools[key] ??= value || null;
        break;
    }
  }
  return found;
}

import { IKernelProfile, IKernelStartInfo } from '../../common/api';
import { isWaiting } from './model';

/** What a notebook knows about the kernel it starts or has. */
export interface INotebookKernelFacts {
  /** The notebook's path relative to the server's root (`context.localPath`). */
  path: string;
  /** Kernelspec names it asked for or runs (preference, session's kernel). */
  specNames: readonly string[];
  /**
   * The picker's name of the kernel it is starting: during a kernel change
   * JupyterLab keeps the pending spec name private and shows only this.
   */
  displayName: string | null;
  /** The kernel's id once the Jupyter server answered (restarts). */
  kernelId: string | null;
}

/** `a/b.ipynb` however the leading slash is written. */
function samePath(a: string | null, b: string): boolean {
  if (a === null) {
    return false;
  }
  const strip = (p: string) => p.replace(/^\/+/, '');
  return strip(a) === strip(b);
}

/**
 * The waiting start that belongs to this notebook, newest first, or null.
 * The Jupyter server tells the frontend the kernel's id only once the start
 * is over, so a first start is matched by notebook path and kernelspec (or
 * its display name); a restart by the kernel's id.
 */
export function matchStart(
  starts: readonly IKernelStartInfo[],
  facts: INotebookKernelFacts,
  profiles: readonly IKernelProfile[]
): IKernelStartInfo | null {
  const mine = starts.filter(start => {
    if (!isWaiting(start)) {
      return false;
    }
    if (facts.kernelId !== null && start.kernelId === facts.kernelId) {
      return true;
    }
    if (!samePath(start.notebookPath, facts.path)) {
      return false;
    }
    if (facts.specNames.includes(start.specName)) {
      return true;
    }
    const profile = profiles.find(p => p.id === start.profile);
    return (
      facts.displayName !== null &&
      profile !== undefined &&
      profile.displayName === facts.displayName
    );
  });
  return mine.sort((a, b) => b.at - a.at)[0] ?? null;
}

import { Notification } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { matchStart } from '../../../src/lab/kernels/start-match';
import {
  KernelStartNotifier,
  TOAST_SETTLE_MS
} from '../../../src/lab/kernels/start-notifications';
import {
  IDocumentContextLike,
  KernelStartExtension,
  KernelStartItem
} from '../../../src/lab/kernels/start-toolbar';
import { until } from './fixtures';
import {
  allocationInfo,
  FakeKernels,
  profileInfo,
  startInfo
} from './kernel-fixtures';

const trans = nullTranslator.load('jupyterlab_hpc');

/** A notebook's document context as the start item reads it. */
function notebook(
  path: string,
  more: {
    preference?: string;
    kernel?: { id: string; name: string } | null;
    displayName?: string;
  } = {}
): IDocumentContextLike & { changed: () => void } {
  const statusChanged = new Signal<unknown, unknown>({});
  const kernelChanged = new Signal<unknown, unknown>({});
  return {
    localPath: path,
    sessionContext: {
      path,
      kernelPreference: { name: more.preference },
      session: more.kernel ? { kernel: more.kernel } : null,
      kernelDisplayName: more.displayName ?? 'No Kernel',
      statusChanged,
      kernelChanged
    },
    changed: () => statusChanged.emit(undefined)
  };
}

const facts = (
  path: string,
  more: Partial<Parameters<typeof matchStart>[1]> = {}
) => ({
  path,
  specNames: [],
  displayName: null,
  kernelId: null,
  ...more
});

describe('matchStart', () => {
  const profiles = [profileInfo()];
  const queued = startInfo();

  it('finds the start of this notebook by path and kernelspec', () => {
    expect(
      matchStart(
        [queued],
        facts('work/analysis.ipynb', { specNames: ['hpc-abcd1234'] }),
        profiles
      )
    ).toBe(queued);
  });

  it('leaves the start of another notebook, or of another kernel, alone', () => {
    expect(
      matchStart(
        [queued],
        facts('work/other.ipynb', { specNames: ['hpc-abcd1234'] }),
        profiles
      )
    ).toBeNull();
    expect(
      matchStart(
        [queued],
        facts('work/analysis.ipynb', { specNames: ['python3'] }),
        profiles
      )
    ).toBeNull();
  });

  it("matches a kernel change by the picker's name of the pending kernel", () => {
    expect(
      matchStart(
        [queued],
        facts('/work/analysis.ipynb', {
          specNames: ['python3'],
          displayName: 'Python [conda env:torch] on demo'
        }),
        profiles
      )
    ).toBe(queued);
  });

  it("matches a restart by the kernel's id, and never a start that is over", () => {
    const restart = startInfo({
      kernelId: 'k-run',
      notebookPath: null,
      restart: true,
      state: 'waiting'
    });
    expect(
      matchStart([restart], facts('x.ipynb', { kernelId: 'k-run' }), profiles)
    ).toBe(restart);
    expect(
      matchStart(
        [startInfo({ state: 'failed' })],
        facts('work/analysis.ipynb', { specNames: ['hpc-abcd1234'] }),
        profiles
      )
    ).toBeNull();
  });
});

describe('the notebook toolbar item', () => {
  let kernels: FakeKernels;

  beforeEach(() => {
    kernels = new FakeKernels();
    kernels.profiles = [profileInfo()];
    kernels.allocations = [allocationInfo({ node: 'node7' })];
  });

  const textOf = (item: KernelStartItem) =>
    item.node.querySelector('.jp-HpcKernelStart-text')?.textContent ?? null;

  function attach(item: KernelStartItem): KernelStartItem {
    Widget.attach(item, document.body);
    return item;
  }

  it('shows queued, then starting on the node, in the right notebook only, then goes', async () => {
    const mine = notebook('work/analysis.ipynb', {
      preference: 'hpc-abcd1234'
    });
    const other = notebook('work/other.ipynb', { preference: 'hpc-abcd1234' });
    const now = new Date(2026, 11, 6, 12, 0).getTime();
    const item = attach(
      new KernelStartItem({ kernels, context: mine, trans, now: () => now })
    );
    const otherItem = attach(
      new KernelStartItem({ kernels, context: other, trans, now: () => now })
    );
    expect(item.isHidden).toBe(true);

    const estimated = new Date(2026, 11, 6, 14, 5).getTime();
    kernels.pushStart(startInfo({ estimatedStart: estimated }));
    await until(() => textOf(item));
    const hhmm = new Date(estimated).toLocaleTimeString(undefined, {
      hour: '2-digit',
      minute: '2-digit'
    });
    expect(textOf(item)).toBe(
      `Queued on demo: Priority, estimated start ${hhmm}`
    );
    expect(item.isHidden).toBe(false);
    expect(item.node.dataset.kernelId).toBe('k-new');
    expect(otherItem.isHidden).toBe(true);
    expect(textOf(otherItem)).toBeNull();

    kernels.pushStart(startInfo({ state: 'starting' }));
    await until(() => textOf(item) === 'Starting on node7…');

    kernels.pushStart(startInfo({ state: 'failed', message: 'Refused.' }));
    await until(() => item.isHidden);
    item.dispose();
    otherItem.dispose();
  });

  it('cancels the start through the sidecar', async () => {
    const mine = notebook('work/analysis.ipynb', {
      preference: 'hpc-abcd1234'
    });
    const item = attach(new KernelStartItem({ kernels, context: mine, trans }));
    kernels.pushStart(startInfo());
    const cancel = await until(() =>
      item.node.querySelector<HTMLButtonElement>('.jp-HpcKernelStart-cancel')
    );
    expect(cancel.textContent).toBe('Cancel');
    cancel.click();
    await until(() => kernels.cancelled.length === 1);
    expect(kernels.cancelled).toEqual(['k-new']);
    item.dispose();
  });

  it('goes into the notebook toolbar before the kernel name', () => {
    const inserted: string[] = [];
    const panel = {
      toolbar: {
        insertBefore: (at: string, name: string) => {
          inserted.push(`${name} before ${at}`);
          return true;
        },
        addItem: () => false
      }
    };
    const extension = new KernelStartExtension({ kernels, trans });
    const item = extension.createNew(panel, notebook('a.ipynb'));
    expect(inserted).toEqual(['hpcKernelStart before kernelName']);
    item.dispose();
  });
});

describe('the start notification', () => {
  afterEach(() => Notification.manager.dismiss());

  const toasts = () => [...Notification.manager.notifications];

  it('is in progress with Cancel while the start waits, and goes when it is over', async () => {
    const kernels = new FakeKernels();
    kernels.profiles = [profileInfo()];
    const notifier = new KernelStartNotifier({ kernels, trans });
    kernels.pushStart(startInfo());
    const id = notifier.notificationOf('k-new');
    const toast = toasts().find(t => t.id === id)!;
    expect(toast.type).toBe('in-progress');
    expect(toast.message).toBe('analysis.ipynb: Queued on demo: Priority');
    expect(toast.options.actions?.map(a => a.label)).toEqual(['Cancel']);

    toast.options.actions![0].callback(new MouseEvent('click'));
    await until(() => kernels.cancelled.length === 1);

    kernels.pushStart(startInfo({ state: 'cancelled' }));
    expect(toasts().some(t => t.id === id)).toBe(false);
    expect(notifier.notificationOf('k-new')).toBeNull();
    notifier.dispose();
  });

  describe('a start that moves on before its toast is shown', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => {
      jest.restoreAllMocks();
      jest.useRealTimers();
    });

    const message = (notifier: KernelStartNotifier) =>
      toasts().find(t => t.id === notifier.notificationOf('k-new'))?.message;

    // JupyterLab would drop an update sent before its toast is mounted: the
    // toast would say "Asking demo for a job…" for the whole wait.
    it('gets its new words once the toast has settled, then at once', () => {
      const kernels = new FakeKernels();
      kernels.profiles = [profileInfo()];
      const notifier = new KernelStartNotifier({ kernels, trans });
      const update = jest.spyOn(Notification, 'update');
      kernels.pushStart(startInfo({ state: 'waiting', reason: null }));
      kernels.pushStart(startInfo({ reason: null }));
      kernels.pushStart(startInfo({ reason: 'Resources' }));
      expect(update).not.toHaveBeenCalled();
      expect(message(notifier)).toBe('analysis.ipynb: Asking demo for a job…');
      jest.advanceTimersByTime(TOAST_SETTLE_MS);
      expect(update).toHaveBeenCalledTimes(1);
      expect(message(notifier)).toBe(
        'analysis.ipynb: Queued on demo: Resources'
      );
      kernels.pushStart(startInfo({ state: 'starting' }));
      expect(update).toHaveBeenCalledTimes(2);
      expect(message(notifier)).toBe('analysis.ipynb: Starting on demo…');
      notifier.dispose();
    });

    it('is dismissed without a late update when the start is over first', () => {
      const kernels = new FakeKernels();
      kernels.profiles = [profileInfo()];
      const notifier = new KernelStartNotifier({ kernels, trans });
      const update = jest.spyOn(Notification, 'update');
      kernels.pushStart(startInfo({ state: 'waiting' }));
      kernels.pushStart(startInfo());
      kernels.pushStart(startInfo({ state: 'started' }));
      jest.advanceTimersByTime(TOAST_SETTLE_MS);
      expect(update).not.toHaveBeenCalled();
      expect(toasts()).toEqual([]);
      expect(notifier.notificationOf('k-new')).toBeNull();
      notifier.dispose();
    });
  });
});

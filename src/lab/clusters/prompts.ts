import { Notification } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { IPrompt, IPromptAnswer, Routes, SidecarEvent } from '../../common/api';
import { ISidecarModel, SidecarState } from '../sidecar/model';
import { requestSidecar } from '../sidecar/request';
import { toFailure } from './model';
import { IOpenPrompt, openPromptDialog } from './prompt-dialog';

export interface IPromptQueueOptions {
  sidecar: ISidecarModel;
  trans: TranslationBundle;
  serverSettings?: ServerConnection.ISettings;
  /** Shows one prompt; the JupyterLab dialog unless a test says otherwise. */
  open?: (prompt: IPrompt, trans: TranslationBundle) => IOpenPrompt;
}

/** How many answered or closed prompt ids to remember (never re-shown). */
const CLOSED_MEMORY = 200;

/**
 * The sidecar's questions (host keys, passphrases, passwords, 2FA codes),
 * shown one dialog at a time in the order they came, each answered or
 * cancelled with one POST. A prompt closed elsewhere (another tab, expiry)
 * closes its dialog. Answers are posted and dropped, never kept or logged.
 */
export class PromptQueue implements IDisposable {
  constructor(options: IPromptQueueOptions) {
    this._sidecar = options.sidecar;
    this._trans = options.trans;
    this._serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
    this._open = options.open ?? openPromptDialog;
    this._sidecar.event.connect(this._onEvent, this);
    this._sidecar.stateChanged.connect(this._onState, this);
    this._wasReady = this._sidecar.state.status === 'ready';
    if (this._wasReady) {
      void this.refresh();
    }
  }

  /** The prompts waiting, the one shown first. */
  get pending(): readonly IPrompt[] {
    return this._queue;
  }

  /** The prompt whose dialog is open, or null. */
  get current(): IPrompt | null {
    return this._shown?.prompt ?? null;
  }

  /** Emitted whenever a prompt is added, shown or closed. */
  get changed(): ISignal<PromptQueue, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Ask the sidecar which prompts wait (after a page load or a lost event
   * channel), show the new ones and close those no longer waiting.
   */
  async refresh(): Promise<void> {
    const known = new Set(this._queue.map(p => p.id));
    let waiting: IPrompt[];
    try {
      const body = await requestSidecar<unknown>(
        Routes.prompts,
        {},
        this._serverSettings
      );
      waiting = Array.isArray(body) ? body.filter(isPrompt) : [];
    } catch {
      // The sidecar is not there; its state says so elsewhere.
      return;
    }
    if (this._isDisposed) {
      return;
    }
    const stillWaiting = new Set(waiting.map(p => p.id));
    for (const id of known) {
      if (!stillWaiting.has(id)) {
        this._withdraw(id);
      }
    }
    waiting.forEach(p => this._add(p));
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._queue = [];
    this._shown?.open.close();
    this._shown = null;
    Signal.clearData(this);
  }

  private _onEvent(_: ISidecarModel, event: SidecarEvent): void {
    switch (event.type) {
      case 'prompt':
        if (isPrompt(event.prompt)) {
          this._add(event.prompt);
        }
        break;
      case 'prompt-closed':
        this._withdraw(event.id);
        break;
      case 'hello':
        void this.refresh();
        break;
      default:
        break;
    }
  }

  private _onState(_: ISidecarModel, state: SidecarState): void {
    const ready = state.status === 'ready';
    if (ready && !this._wasReady) {
      void this.refresh();
    } else if (!ready && this._wasReady) {
      // The sidecar went away, and its questions with it.
      for (const prompt of [...this._queue]) {
        this._withdraw(prompt.id);
      }
    }
    this._wasReady = ready;
  }

  private _add(prompt: IPrompt): void {
    if (
      this._isDisposed ||
      this._closed.has(prompt.id) ||
      this._queue.some(p => p.id === prompt.id)
    ) {
      return;
    }
    this._queue.push(prompt);
    this._changed.emit();
    this._showNext();
  }

  /** A prompt was closed by the sidecar: drop it, or close its dialog. */
  private _withdraw(id: string): void {
    this._remember(id);
    const shown = this._shown;
    if (shown?.prompt.id === id) {
      if (!shown.answered) {
        shown.open.close();
        Notification.info(
          this._trans.__(
            '"%1" was closed: answered in another tab, expired or no longer needed.',
            shown.prompt.title
          ),
          { autoClose: 5000 }
        );
      }
      return;
    }
    const before = this._queue.length;
    this._queue = this._queue.filter(p => p.id !== id);
    if (this._queue.length !== before) {
      this._changed.emit();
    }
  }

  private _showNext(): void {
    if (this._shown || this._isDisposed) {
      return;
    }
    const prompt = this._queue[0];
    if (!prompt) {
      return;
    }
    const shown = {
      prompt,
      open: this._open(prompt, this._trans),
      answered: false
    };
    this._shown = shown;
    this._changed.emit();
    void shown.open.answer
      .then(async answer => {
        if (answer) {
          shown.answered = true;
          await this._post(prompt, answer);
        }
      })
      .finally(() => {
        this._remember(prompt.id);
        this._queue = this._queue.filter(p => p.id !== prompt.id);
        if (this._shown === shown) {
          this._shown = null;
        }
        if (!this._isDisposed) {
          this._changed.emit();
          this._showNext();
        }
      });
  }

  private async _post(prompt: IPrompt, answer: IPromptAnswer): Promise<void> {
    try {
      await requestSidecar(
        Routes.prompt(prompt.id),
        { method: 'POST', body: JSON.stringify(answer) },
        this._serverSettings
      );
    } catch (err) {
      if (!this._isDisposed) {
        Notification.error(
          this._trans.__(
            '"%1" could not be answered: %2',
            prompt.title,
            toFailure(err).message
          ),
          { autoClose: false }
        );
      }
    }
  }

  private _remember(id: string): void {
    this._closed.add(id);
    if (this._closed.size > CLOSED_MEMORY) {
      const oldest = this._closed.values().next().value;
      if (oldest !== undefined) {
        this._closed.delete(oldest);
      }
    }
  }

  private _sidecar: ISidecarModel;
  private _trans: TranslationBundle;
  private _serverSettings: ServerConnection.ISettings;
  private _open: (prompt: IPrompt, trans: TranslationBundle) => IOpenPrompt;
  private _queue: IPrompt[] = [];
  private _shown: {
    prompt: IPrompt;
    open: IOpenPrompt;
    answered: boolean;
  } | null = null;
  private _closed = new Set<string>();
  private _wasReady: boolean;
  private _changed = new Signal<PromptQueue, void>(this);
  private _isDisposed = false;
}

function isPrompt(value: unknown): value is IPrompt {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const p = value as Partial<IPrompt>;
  return (
    typeof p.id === 'string' &&
    typeof p.kind === 'string' &&
    Array.isArray(p.fields)
  );
}

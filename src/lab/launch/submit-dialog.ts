import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import { ISignal } from '@lumino/signaling';

/** A form that submits itself and says whether it can. */
export interface ISubmittingForm<T> extends Widget {
  /** Emitted whenever `canSubmit` may have changed. */
  readonly stateChanged: ISignal<unknown, void>;
  readonly canSubmit: boolean;
  /** Resolves with the result, or null when refused (the form shows why). */
  submit(): Promise<T | null>;
  getValue(): T | null;
}

/**
 * A dialog whose accept button submits the form and stays open until the
 * submission is accepted; it is disabled while the form has problems.
 * Shared by the launch form and the kernel profile dialog.
 */
export class SubmitDialog<T> extends Dialog<T | null> {
  constructor(
    options: Partial<Dialog.IOptions<T | null>> & {
      body: ISubmittingForm<T>;
      buttons: ReadonlyArray<Dialog.IButton>;
    }
  ) {
    super(options);
    this._form = options.body;
    this._buttonList = options.buttons;
    this._defaultIndex = options.defaultButton ?? options.buttons.length - 1;
    this._form.stateChanged.connect(this._sync, this);
    this._sync();
  }

  resolve(index?: number): void {
    const i = index ?? this._defaultIndex;
    const button = this._buttonList[i];
    if (!button?.accept) {
      super.resolve(i);
      return;
    }
    void this._form.submit().then(result => {
      if (result && !this.isDisposed) {
        super.resolve(i);
      }
    });
  }

  /** The form, not the inputs' `:invalid`, decides whether accept works. */
  protected _checkValidation(): void {
    this._sync();
  }

  /** The accept button is pressable only when the form can submit. */
  private _sync(): void {
    if (!this._form) {
      return;
    }
    this.node
      .querySelectorAll<HTMLButtonElement>('.jp-Dialog-button.jp-mod-accept')
      .forEach(node => {
        node.disabled = !this._form.canSubmit;
      });
  }

  private _form: ISubmittingForm<T>;
  private _buttonList: ReadonlyArray<Dialog.IButton>;
  private _defaultIndex: number;
}

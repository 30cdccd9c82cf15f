import { Dialog } from '@jupyterlab/apputils';

/** A dialog body that can refuse to be accepted. */
export interface IValidatingBody<T> extends Dialog.IBodyWidget<T> {
  /**
   * Show every problem inline and move the focus to the first; true if
   * there is none and the dialog may close.
   */
  validate(): boolean;
}

/**
 * A JupyterLab dialog that stays open when an accepting button is pressed
 * (clicked, or Enter in a field) while its body has problems. JupyterLab's
 * own check (`:invalid` inputs) runs before React renders, so it would judge
 * the previous keystroke; this asks the body itself.
 */
export class ValidatingDialog<T> extends Dialog<T> {
  constructor(
    options: Partial<Dialog.IOptions<T>> & {
      body: IValidatingBody<T>;
      buttons: ReadonlyArray<Dialog.IButton>;
    }
  ) {
    super(options);
    this._form = options.body;
    this._buttonList = options.buttons;
    this._defaultIndex = options.defaultButton ?? options.buttons.length - 1;
  }

  resolve(index?: number): void {
    const button = this._buttonList[index ?? this._defaultIndex];
    if (button?.accept && !this._form.validate()) {
      return;
    }
    super.resolve(index);
  }

  private _form: IValidatingBody<T>;
  private _buttonList: ReadonlyArray<Dialog.IButton>;
  private _defaultIndex: number;
}

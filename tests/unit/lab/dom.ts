/**
 * Driving JupyterLab dialogs and React forms in jsdom the way a user does:
 * typing fires `input` events, choosing fires `change`, buttons are clicked.
 */
import { until } from './fixtures';

/** The JupyterLab dialogs in the page. */
export const dialogs = (): HTMLElement[] =>
  Array.from(document.querySelectorAll<HTMLElement>('dialog.jp-Dialog'));

export const dialogTitle = (dialog: HTMLElement): string =>
  dialog.querySelector('.jp-Dialog-header')?.textContent ?? '';

/** The one dialog open once its title and `ready` selector rendered. */
export function openDialog(ready: string): Promise<HTMLElement> {
  return until((): HTMLElement | null => {
    const [dialog, ...more] = dialogs();
    return dialog &&
      more.length === 0 &&
      dialogTitle(dialog) &&
      dialog.querySelector(ready)
      ? dialog
      : null;
  });
}

export const dialogButton = (
  dialog: HTMLElement,
  label: string
): HTMLButtonElement => {
  const found = Array.from(
    dialog.querySelectorAll<HTMLButtonElement>('.jp-Dialog-button')
  ).find(b => b.textContent === label);
  if (!found) {
    throw new Error(`no dialog button "${label}"`);
  }
  return found;
};

/** The input, select or textarea whose <label> says `label`. */
export function field<T extends HTMLElement = HTMLInputElement>(
  root: HTMLElement,
  label: string
): T {
  const labelNode = Array.from(root.querySelectorAll('label')).find(
    l => l.textContent === label
  );
  const id = labelNode?.htmlFor;
  const control = id ? root.querySelector<T>(`#${CSS.escape(id)}`) : null;
  if (!control) {
    throw new Error(`no field labelled "${label}"`);
  }
  return control;
}

/** Set an input's value as typing does, so React sees the change. */
export function type(input: HTMLInputElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(
    HTMLInputElement.prototype,
    'value'
  )!.set!;
  setter.call(input, value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

/** Choose an option of a select as a user does. */
export function choose(select: HTMLSelectElement, value: string): void {
  const setter = Object.getOwnPropertyDescriptor(
    HTMLSelectElement.prototype,
    'value'
  )!.set!;
  setter.call(select, value);
  select.dispatchEvent(new Event('change', { bubbles: true }));
}

/** Click a radio or checkbox so React's onChange runs. */
export function check(input: HTMLInputElement): void {
  input.click();
}

/** Press Enter in an element, as the dialog's keydown handler sees it. */
export function pressEnter(element: HTMLElement): void {
  element.focus();
  element.dispatchEvent(
    new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })
  );
}

/** The text of the note (hint or problem) an input is described by. */
export function noteOf(input: HTMLElement): string | null {
  const id = input.getAttribute('aria-describedby');
  return id ? (document.getElementById(id)?.textContent ?? null) : null;
}

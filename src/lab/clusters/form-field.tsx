import * as React from 'react';
import { HTMLSelect } from '@jupyterlab/ui-components';

export interface ITextFieldProps {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  onBlur?: () => void;
  /** Shown under the field while it has no problem. */
  hint?: string;
  /** Shown under the field instead of the hint; marks it invalid. */
  problem?: string | null;
  type?: 'text' | 'password';
  inputMode?: 'text' | 'numeric';
  autoComplete?: string;
  placeholder?: string;
  inputRef?: React.Ref<HTMLInputElement>;
}

/**
 * A labelled text input with a hint or an inline problem, linked to it for
 * assistive technology (`aria-invalid`, `aria-describedby`). It sets no
 * `required` or `pattern`: the form judges its fields itself.
 */
export function TextField(props: ITextFieldProps): React.ReactElement {
  const { id, label, hint, problem } = props;
  const noteId = `${id}-note`;
  const note = problem ?? hint;
  return (
    <div className="jp-HpcForm-field">
      <label className="jp-HpcForm-label" htmlFor={id}>
        {label}
      </label>
      <input
        id={id}
        name={id}
        ref={props.inputRef}
        className="jp-mod-styled jp-HpcForm-input"
        type={props.type ?? 'text'}
        inputMode={props.inputMode}
        value={props.value}
        placeholder={props.placeholder}
        autoComplete={props.autoComplete ?? 'off'}
        spellCheck={false}
        aria-invalid={problem ? true : undefined}
        aria-describedby={note ? noteId : undefined}
        onChange={event => props.onChange(event.target.value)}
        onBlur={props.onBlur}
      />
      {note && (
        <div
          id={noteId}
          className={problem ? 'jp-HpcForm-problem' : 'jp-HpcForm-hint'}
        >
          {note}
        </div>
      )}
    </div>
  );
}

let nextFormId = 0;

/** A prefix for the element ids of one dialog, unique in the page. */
export function newFormId(kind: string): string {
  return `jp-Hpc-${kind}-${++nextFormId}`;
}

export interface ISelectFieldProps {
  id: string;
  label: string;
  value: string;
  options: { value: string; label: string; disabled?: boolean }[];
  onChange: (value: string) => void;
  hint?: React.ReactNode;
  problem?: string | null;
  disabled?: boolean;
}

/**
 * A labelled JupyterLab select with a hint or an inline problem, linked as
 * TextField links its note.
 */
export function SelectField(props: ISelectFieldProps): React.ReactElement {
  const { id, label, hint, problem } = props;
  const noteId = `${id}-note`;
  const note = problem ?? hint;
  return (
    <div className="jp-HpcForm-field">
      <label className="jp-HpcForm-label" htmlFor={id}>
        {label}
      </label>
      <HTMLSelect
        id={id}
        className="jp-HpcForm-select"
        value={props.value}
        disabled={props.disabled}
        aria-invalid={problem ? true : undefined}
        aria-describedby={note ? noteId : undefined}
        onChange={event => props.onChange(event.target.value)}
        options={props.options}
      />
      {note && (
        <div
          id={noteId}
          className={problem ? 'jp-HpcForm-problem' : 'jp-HpcForm-hint'}
        >
          {note}
        </div>
      )}
    </div>
  );
}

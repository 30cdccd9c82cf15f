import { caretDownIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

export interface IPanelSectionProps {
  /** The header's words (shown in capitals, as JupyterLab's sidebars do). */
  label: string;
  /** Optional words after the label, e.g. a count. */
  detail?: string;
  expanded: boolean;
  onToggle: () => void;
  /** Icon buttons at the right end of the header. */
  actions?: React.ReactNode;
  className?: string;
  children?: React.ReactNode;
}

/**
 * A collapsible section of the side panel, like the sections of
 * JupyterLab's Running panel: a caret, an uppercase title that toggles it,
 * and the section's own toolbar.
 */
export function PanelSection(props: IPanelSectionProps): React.ReactElement {
  const { label, expanded } = props;
  const bodyId = React.useId();
  const className = ['jp-HpcPanel-section', props.className]
    .filter(Boolean)
    .join(' ');
  return (
    <section
      className={className}
      aria-label={label}
      data-expanded={expanded ? 'true' : 'false'}
    >
      <div className="jp-HpcPanel-sectionHeader">
        <button
          type="button"
          className="jp-HpcPanel-sectionToggle"
          aria-expanded={expanded}
          aria-controls={bodyId}
          onClick={props.onToggle}
        >
          <caretDownIcon.react
            tag="span"
            className={
              expanded
                ? 'jp-HpcPanel-sectionCaret'
                : 'jp-HpcPanel-sectionCaret jp-mod-collapsed'
            }
          />
          <span className="jp-HpcPanel-sectionTitle">{label}</span>
          {props.detail && (
            <span className="jp-HpcPanel-sectionDetail">{props.detail}</span>
          )}
        </button>
        {props.actions && (
          <div className="jp-HpcPanel-sectionActions">{props.actions}</div>
        )}
      </div>
      {expanded && (
        <div id={bodyId} className="jp-HpcPanel-sectionBody">
          {props.children}
        </div>
      )}
    </section>
  );
}

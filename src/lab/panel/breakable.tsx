import * as React from 'react';

/**
 * A command or path in running text, with a line-break opportunity after
 * each `/`: a long path then wraps between its parts, never inside a name.
 * The text copies and reads as one piece (`<wbr>` adds no characters).
 */
export function BreakablePath(props: { text: string }): JSX.Element {
  const parts = props.text.split(/(?<=\/)/);
  return (
    <code>
      {parts.map((part, i) => (
        <React.Fragment key={i}>
          {part}
          {i < parts.length - 1 && <wbr />}
        </React.Fragment>
      ))}
    </code>
  );
}

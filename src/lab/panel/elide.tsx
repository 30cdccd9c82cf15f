import * as React from 'react';

/** How many characters the unelided end of a path keeps, at most. */
const TAIL_LENGTH = 22;

/**
 * Split `text` where a middle ellipsis should go: the tail is what must
 * stay readable (the last path segment, or the end of a host), the head is
 * what CSS may cut with "…" when the row is too narrow. The tail is the end
 * of the text widened to the "/" before it (else to a space, dot, @ or
 * colon), so its first name is whole.
 */
export function splitForMiddleElision(
  text: string,
  tailLength: number = TAIL_LENGTH
): [head: string, tail: string] {
  if (text.length <= tailLength) {
    return ['', text];
  }
  const from = text.length - tailLength;
  // Widen the tail to the boundary before it, so its first word is whole.
  const slash = text.lastIndexOf('/', from);
  let at = slash;
  if (slash <= 0) {
    at = -1;
    for (let i = from; i > 0; i--) {
      if (/[\s.@:]/.test(text[i])) {
        at = i;
        break;
      }
    }
  }
  if (at <= 0) {
    at = from;
  }
  return [text.slice(0, at), text.slice(at)];
}

/**
 * A path or address on one line, elided in the middle when it does not fit
 * (see `.jp-HpcElided` in style/base.css), with the whole text as tooltip.
 * Its text content stays the whole text, for copying and screen readers.
 */
export function MiddleElided(props: {
  text: string;
  className?: string;
}): React.ReactElement {
  const [head, tail] = splitForMiddleElision(props.text);
  const className = props.className
    ? `jp-HpcElided ${props.className}`
    : 'jp-HpcElided';
  return (
    <span className={className} title={props.text}>
      {head && <span className="jp-HpcElided-head">{head}</span>}
      <span className="jp-HpcElided-tail">{tail}</span>
    </span>
  );
}

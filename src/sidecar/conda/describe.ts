/** How messages about environments name a target and a command's stderr. */
import { LOCAL_TARGET } from '../../common/api';

/** A target as the user knows it. */
export function where(target: string): string {
  return target === LOCAL_TARGET ? 'this computer' : target;
}

/** The end of a command's output, short enough for a message. */
export function tail(text: Buffer): string {
  const s = text.toString('utf8').trim();
  return s.length > 500 ? '…' + s.slice(-500) : s;
}

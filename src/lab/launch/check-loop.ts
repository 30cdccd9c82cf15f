import { ILaunchProblem } from '../../common/sessions';

/** What one check answered: problems stop the form, unchecked are notes. */
export interface ICheckAnswer {
  problems: ILaunchProblem[];
  unchecked: ILaunchProblem[];
}

export interface ICheckLoopOptions {
  /**
   * Ask the sidecar about the values now; null when there is nothing to
   * ask (a number field holds no number).
   */
  check: () => Promise<ICheckAnswer> | null;
  /** The answer of the latest check (an empty one when it failed or was not asked). */
  onAnswer: (answer: ICheckAnswer) => void;
  /** Milliseconds from the last edit to the check; 400 by default. */
  delay?: number;
}

const NONE: ICheckAnswer = { problems: [], unchecked: [] };

/**
 * The checks of a form as the user types: one after a pause in the edits,
 * and only the answer to the newest values counts.
 */
export class CheckLoop {
  constructor(private readonly _options: ICheckLoopOptions) {}

  /** Check after the delay; a newer edit restarts it. */
  schedule(): void {
    this.cancel();
    this._timer = setTimeout(() => this.run(), this._options.delay ?? 400);
  }

  /** Check now. */
  run(): void {
    if (this._disposed) {
      return;
    }
    const seq = ++this._seq;
    const pending = this._options.check();
    if (!pending) {
      this._options.onAnswer(NONE);
      return;
    }
    pending.then(
      answer => {
        if (seq === this._seq && !this._disposed) {
          this._options.onAnswer(answer);
        }
      },
      () => {
        // The sidecar checks again on submit; nothing to show meanwhile.
        if (seq === this._seq && !this._disposed) {
          this._options.onAnswer(NONE);
        }
      }
    );
  }

  /** Forget the pending check and any answer still on its way (on submit). */
  cancel(): void {
    clearTimeout(this._timer);
    this._seq++;
  }

  dispose(): void {
    this.cancel();
    this._disposed = true;
  }

  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _seq = 0;
  private _disposed = false;
}

/**
 * DTMF for agents that take text: the keys the caller presses are collected until `#` or a pause
 * of {@link DTMF_GAP_MS}, then reach the model as one user line ({@link dtmfText}).
 */

/** A pause between key presses this long ends the digits sent to the model as one message. */
export const DTMF_GAP_MS = 1500;

/** The user line a run of DTMF digits becomes (model input and stored message). */
export function dtmfText(digits: string): string {
  return `The caller pressed on the phone keypad: ${digits.split('').join(' ')}`;
}

/** Collects digits and hands each run to `onDigits` (at `#` or after the pause). */
export class DtmfCollector {
  private digits = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onDigits: (digits: string) => void,
    private readonly gapMs = DTMF_GAP_MS,
  ) {}

  /** One key press. */
  press(digit: string): void {
    this.digits += digit;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (digit === '#') this.flush();
    else this.timer = setTimeout(() => this.flush(), this.gapMs);
  }

  /** Hands over the digits so far (none: nothing happens). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const digits = this.digits;
    this.digits = '';
    if (digits) this.onDigits(digits);
  }

  /** Drops pending digits and the timer. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.digits = '';
  }
}

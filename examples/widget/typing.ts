/** The visitor's own typing, throttled as Rocket.Chat's widget: `typing: true` at most every
 * 4.5 s while keys are pressed, `typing: false` after 5 s without one and on send. On its own
 * (no GraphQL here) so that typing.test.mjs can drive it with a mocked clock. */

/** Rocket.Chat's widget: `typing` again at most this often while the visitor types. */
export const TYPING_REPEAT_MS = 4500;
/** Rocket.Chat's widget: `typing: false` after this long without a key. */
export const TYPING_IDLE_MS = 5000;

/** The visitor's typing, throttled as Rocket.Chat's widget (see the module's docstring). */
export class TypingSender {
  private lastSent = 0;
  private idle: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly send: (typing: boolean) => Promise<unknown>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A key went down in the composer. */
  keystroke(): void {
    const now = this.now();
    if (this.idle === undefined || now - this.lastSent >= TYPING_REPEAT_MS) {
      this.lastSent = now;
      this.fire(true);
    }
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.stop(), TYPING_IDLE_MS);
  }

  /** Sent, or left: no longer typing (only said when typing was said). */
  stop(): void {
    if (this.idle === undefined) return;
    clearTimeout(this.idle);
    this.idle = undefined;
    this.lastSent = 0;
    this.fire(false);
  }

  private fire(typing: boolean): void {
    // Typing is a hint: a failure is not worth interrupting the visitor.
    this.send(typing).catch(() => undefined);
  }
}

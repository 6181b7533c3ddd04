/**
 * A budget of log lines of one kind per time window: the first `lines` of a window are
 * logged as usual, the rest are counted, so that a flood of events (a peer announcing
 * hundreds of forged slave ids a second) cannot flood the log, and the count of what was
 * held back is told once when the window ends.
 *
 * Times are the caller's monotonic clock, ms. Pure: the caller logs.
 */
export class LogBudget {
  private windowStartMs: number | undefined;
  private used = 0;
  private heldBack = 0;

  /**
   * @param lines - lines logged per window (at least 1)
   * @param windowMs - length of a window, ms; a window starts at its first line
   * @throws RangeError when `lines` < 1 or `windowMs` <= 0
   */
  constructor(
    readonly lines: number,
    readonly windowMs: number,
  ) {
    if (!(lines >= 1) || !(windowMs > 0)) throw new RangeError(`LogBudget needs lines >= 1 and windowMs > 0, got ${lines} and ${windowMs}`);
  }

  /**
   * Takes a line from the budget.
   *
   * @param nowMs - the caller's clock, ms
   * @returns true when the line may be logged as usual; false when it is over budget
   *   (counted; {@link ended} tells the count)
   */
  take(nowMs: number): boolean {
    this.windowStartMs ??= nowMs;
    if (this.used < this.lines) {
      this.used++;
      return true;
    }
    this.heldBack++;
    return false;
  }

  /**
   * Ends the current window once `windowMs` have passed since it began (or at once with
   * `force`, at the end of a batch), so that a new one starts with the next line.
   *
   * @param nowMs - the caller's clock, ms
   * @returns the lines held back in the window that ended, or 0 (none held back, or the
   *   window still running)
   */
  ended(nowMs: number, force = false): number {
    if (this.windowStartMs === undefined) return 0;
    if (!force && nowMs - this.windowStartMs < this.windowMs) return 0;
    const heldBack = this.heldBack;
    this.windowStartMs = undefined;
    this.used = 0;
    this.heldBack = 0;
    return heldBack;
  }
}

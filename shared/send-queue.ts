/**
 * Funnels every send of one ZeroMQ socket through a FIFO, because zeromq.js 6 allows one
 * pending `send()` per socket (a second is rejected with `EBUSY`). Bounded: once
 * `maxQueued` messages wait, {@link SendQueue.push} reports `false` and drops the message,
 * so a stuck peer can never make the process buffer without limit.
 */
export class SendQueue<T> {
  private readonly queue: (T | undefined)[] = [];
  private head = 0;
  private pumping = false;
  private closed = false;

  /**
   * @param send - performs one send; a rejection is passed to `onError`, and the queue goes on
   * @param onError - called with the failed item and its error (e.g. `EHOSTUNREACH`, `EAGAIN`)
   * @param maxQueued - most messages waiting, beyond which pushes are refused (default
   *   100,000; the slave's connection uses 10,000)
   */
  constructor(
    private readonly send: (item: T) => Promise<void>,
    private readonly onError: (item: T, err: unknown) => void,
    private readonly maxQueued = 100_000,
  ) {}

  /** Messages waiting to be sent. */
  get length(): number {
    return this.queue.length - this.head;
  }

  /** Queues one message; returns false (and drops it) when the queue is full or closed. */
  push(item: T): boolean {
    if (this.closed || this.length >= this.maxQueued) return false;
    this.queue.push(item);
    if (!this.pumping) void this.pump();
    return true;
  }

  /** Resolves once every queued message has been handed to the socket (or failed). */
  async drain(): Promise<void> {
    while (this.pumping || this.length > 0) {
      // Polled every 5 ms: the pump has no completion event to wait on.
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Refuses further pushes and forgets what was queued. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.head = 0;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.head < this.queue.length) {
        const item = this.queue[this.head] as T;
        // Let go of the sent message at once: a slot kept until the next compaction (after
        // 1,024 sends) held its image parts, 1.7 GB for 72 images of 22.5 MB.
        this.queue[this.head] = undefined;
        this.head++;
        if (this.head === this.queue.length) {
          this.queue.length = 0;
          this.head = 0;
        } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
        try {
          await this.send(item);
        } catch (err) {
          this.onError(item, err);
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}

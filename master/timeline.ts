/** Most buckets a {@link Timeline} keeps; beyond that neighbouring buckets are merged. */
const MAX_BUCKETS = 2000;

/**
 * Images completed over time, in buckets of `bucketMs` from the batch start. Bounded: when
 * the batch outgrows {@link MAX_BUCKETS} buckets, pairs are merged and the width doubles,
 * so an hours-long batch costs the same few kilobytes as a short one.
 */
export class Timeline {
  /** Images completed in each bucket. */
  readonly counts: number[] = [];
  /** Width of one bucket, ms. */
  bucketMs: number;

  constructor(initialBucketMs = 1000) {
    this.bucketMs = initialBucketMs;
  }

  /** Counts `n` images completed at `atMs` after the start. */
  add(atMs: number, n = 1): void {
    let i = Math.max(0, Math.floor(atMs / this.bucketMs));
    while (i >= MAX_BUCKETS) {
      for (let j = 0; j < this.counts.length; j += 2) this.counts[j / 2] = (this.counts[j] ?? 0) + (this.counts[j + 1] ?? 0);
      this.counts.length = Math.ceil(this.counts.length / 2);
      this.bucketMs *= 2;
      i = Math.floor(atMs / this.bucketMs);
    }
    while (this.counts.length <= i) this.counts.push(0);
    this.counts[i] = (this.counts[i] ?? 0) + n;
  }
}

import { MAX_BUNDLE_BYTES } from '../proto/schema.js';

/** Where an image's bytes are in a TASK: a whole part, or `length` bytes at `offset` of a shared one. */
export type ImagePlace = { part: number } | { part: number; offset: number; length: number };

/**
 * Packs the small images of one TASK message into shared parts (copies), so that a batch of
 * thumbnails costs a few ZeroMQ parts instead of one each (see `SMALL_IMAGE_BYTES` in
 * `proto/schema.ts` for the measurement). Each shared part holds at most
 * `MAX_BUNDLE_BYTES`; its slot in `parts` is reserved when its first image arrives, so
 * parts keep the order in which images were placed.
 */
export class SmallImageBundle {
  private images: Buffer[] = [];
  private bytes = 0;
  private part = -1;

  /** @param parts - the message's payload parts, which this fills in */
  constructor(private readonly parts: Buffer[]) {}

  /**
   * Places one image (at most `MAX_BUNDLE_BYTES`).
   *
   * @returns where it will be: part index, and offset and length in that part, bytes
   */
  add(image: Buffer): { part: number; offset: number; length: number } {
    if (this.part < 0 || this.bytes + image.length > MAX_BUNDLE_BYTES) {
      this.close();
      this.part = this.parts.length;
      this.parts.push(EMPTY);
    }
    const offset = this.bytes;
    this.images.push(image);
    this.bytes += image.length;
    return { part: this.part, offset, length: image.length };
  }

  /** Writes the part being filled into `parts`; call once all images are placed. */
  close(): void {
    if (this.part >= 0) this.parts[this.part] = Buffer.concat(this.images, this.bytes);
    this.images = [];
    this.bytes = 0;
    this.part = -1;
  }
}

const EMPTY = Buffer.alloc(0);

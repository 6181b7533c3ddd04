/** Default largest image decoded, px (width x height): 50 megapixels. */
export const DEFAULT_MAX_IMAGE_PIXELS = 50_000_000;

/** Default largest encoded image accepted, bytes: 64 MiB. */
export const DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024;

/** Default largest ZeroMQ message part a slave accepts from its master, bytes (ZMQ_MAXMSGSIZE): 256 MiB (TASKs carry images). */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/**
 * Default largest ZeroMQ message part the master accepts from a slave, bytes: 16 MiB.
 * Slaves send headers only (RESULT, FAIL: a few KB an image; headers are capped at 8 MiB),
 * so anything bigger is hostile: with 256 MiB, six peers sending 250 MB frames took the
 * master from 121 MB to 1.4-2 GB of memory.
 */
export const DEFAULT_MASTER_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * Smallest `--max-message-bytes` master and slave take, bytes: below it a RESULT or a TASK
 * header could be refused, and the batch would stall without a word.
 */
export const MIN_MAX_MESSAGE_BYTES = 1024 * 1024;

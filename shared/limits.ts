/** Default largest image decoded, px (width x height): 50 megapixels. */
export const DEFAULT_MAX_IMAGE_PIXELS = 50_000_000;

/** Default largest encoded image accepted, bytes: 64 MiB. */
export const DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024;

/** Default largest ZeroMQ message accepted on any socket, bytes (ZMQ_MAXMSGSIZE): 256 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

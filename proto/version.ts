/**
 * Wire protocol version, carried as `v` in every message header and checked first on
 * every decode (moleculer `src/transit.js` checks `ver` the same way). Bump it on any
 * incompatible change to {@link ./schema.ts}; peers with another version are refused.
 */
export const PROTOCOL_VERSION = 1;

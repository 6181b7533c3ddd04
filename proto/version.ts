/**
 * Wire protocol version, carried as `v` in every message header and checked first on
 * every decode (moleculer `src/transit.js` checks `ver` the same way). Bump it on any
 * incompatible change to {@link ./schema.ts}; peers with another version are refused.
 */
export const PROTOCOL_VERSION = 2;
// 2: TaskSpec `offset`/`length`: small images share one part (a v1 slave would read the whole part as its image).

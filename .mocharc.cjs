'use strict';
// Tests run TypeScript through tsx (no separate build); type-checking is `tsc --noEmit`.
module.exports = {
  spec: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/faults/**/*.test.ts'],
  require: ['test/helpers/setup.ts'],
  'node-option': ['import=tsx'],
  'forbid-only': true,
  timeout: 120000,
  exit: false,
};

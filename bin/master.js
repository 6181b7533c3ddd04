#!/usr/bin/env node
// Runs the TypeScript source through tsx (no separate build step to forget).
import { register } from 'tsx/esm/api';

register();
await import('../master/cli.ts');

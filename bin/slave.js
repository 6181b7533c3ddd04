#!/usr/bin/env node
// Runs slave/cli.ts compiled by esbuild (no separate build step to forget), or through tsx
// when it cannot be compiled (compiled-entry.mjs).
import { ENTRIES, runEntry } from './compiled-entry.mjs';

await runEntry(ENTRIES.slave);

/**
 * The one place that loads `@u4/opencv4nodejs`, used by the slave's workers and by the
 * master (to read videos). It must never be loaded in a `worker_threads` worker (it
 * aborts the process the second time, UrielCh/opencv4nodejs#140), which is why the
 * slave's pool uses processes.
 */
import { createRequire } from 'node:module';
import type * as OpenCV from '@u4/opencv4nodejs';

const require = createRequire(import.meta.url);
// The binding's loader logs its set-up to stdout on every load; silence it first.
(require('@u4/opencv-build') as { Log: { silence: boolean } }).Log.silence = true;

/** The OpenCV binding. */
export const cv = require('@u4/opencv4nodejs') as typeof OpenCV.cv;

// OpenCV must run single-threaded here. The binding's Mat allocator reports memory to V8
// (`AdjustAmountOfExternalAllocatedMemory`), and when OpenCV's own TBB threads allocate
// (HOG's parallel_for_ does), V8 is entered from a foreign thread and aborts the process
// ("Check failed: marking_done_", measured here). With one thread, parallel_for_ runs in
// the caller. Parallelism comes from the slave's worker processes instead. The same
// allocator is why the binding's `*Async` methods (libuv threads) are not used.
cv.setNumThreads(1);
export type { Mat } from '@u4/opencv4nodejs';

/** OpenCV's version as `major.minor.revision`. */
export function opencvVersion(): string {
  const v = cv.version;
  return `${v.major}.${v.minor}.${v.revision}`;
}

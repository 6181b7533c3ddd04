/**
 * The one place that loads `@u4/opencv4nodejs`. Used by the slave's workers and by the master (to read videos). Loading it prints nothing and takes about
 * 0.2 s; it must never be loaded in a `worker_threads` worker (it aborts the process the
 * second time, UrielCh/opencv4nodejs#140), which is why the slave's pool uses processes.
 */
import cvModule from '@u4/opencv4nodejs';

/** The OpenCV binding. */
export const cv = cvModule;
export type { Mat } from '@u4/opencv4nodejs';

/** OpenCV's version as `major.minor.revision`. */
export function opencvVersion(): string {
  const v = cv.version;
  return `${v.major}.${v.minor}.${v.revision}`;
}

import { DEFAULT_DETECTOR_CONFIG } from '../../proto/detector-config.js';
import type { OutgoingMessage } from '../../proto/messages.js';

/** A slave host as READY describes it. */
export const SAMPLE_HOST = { hostname: 'pi-1', pid: 42, platform: 'linux', arch: 'arm64', cpus: 4, opencv: '4.6.0' };

/** One valid message of each command (RESULT with every task kind), for codec tests. */
export const SAMPLE_MESSAGES: { name: string; msg: OutgoingMessage; payload?: Buffer[] }[] = [
  { name: 'READY', msg: { cmd: 'READY', slaveId: 'pi-1-42', capacity: 4, prefetch: 16, kinds: ['object', 'face', 'edge', 'corner'], host: SAMPLE_HOST } },
  {
    name: 'TASK',
    msg: { cmd: 'TASK', tasks: [{ taskId: 7, kind: 'face', attempt: 1, part: 0, imageId: 3 }, { taskId: 8, kind: 'edge', attempt: 2, part: 0, imageId: 3 }], config: DEFAULT_DETECTOR_CONFIG },
    payload: [Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x01])],
  },
  {
    name: 'RESULT',
    msg: {
      cmd: 'RESULT',
      results: [
        { taskId: 7, attempt: 1, computeMs: 12.5, width: 768, height: 576, kind: 'face', value: { count: 1, boxes: [{ x: 1, y: 2, width: 30, height: 30 }] } },
        { taskId: 8, attempt: 1, computeMs: 3, width: 768, height: 576, kind: 'edge', value: { edgePixels: 1000, density: 0.002 } },
        { taskId: 9, attempt: 1, computeMs: 3, width: 768, height: 576, kind: 'corner', value: { count: 1, points: [{ x: 4.5, y: 6 }] } },
        { taskId: 10, attempt: 2, computeMs: 90, width: 768, height: 576, kind: 'object', value: { count: 1, boxes: [{ x: 1, y: 2, width: 64, height: 128, score: 0.7 }] } },
        { taskId: 11, attempt: 1, computeMs: 0, width: 0, height: 0, kind: 'noop', value: {} },
      ],
    },
  },
  { name: 'FAIL', msg: { cmd: 'FAIL', failures: [{ taskId: 7, attempt: 1, kind: 'object', computeMs: 1, error: { name: 'DecodeError', message: 'bad', retryable: false } }] } },
  { name: 'HEARTBEAT', msg: { cmd: 'HEARTBEAT' } },
  { name: 'HEARTBEAT', msg: { cmd: 'HEARTBEAT', running: [{ taskId: 7, attempt: 1 }, { taskId: 9, attempt: 2 }] } },
  { name: 'DISCONNECT', msg: { cmd: 'DISCONNECT', reason: 'bye' } },
];

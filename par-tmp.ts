import { readdirSync, readFileSync } from 'node:fs';
import { DEFAULT_DETECTOR_CONFIG } from './proto/detector-config.js';
import { runDetector } from './slave/detectors/index.js';
import { decodeImage } from './slave/vision/decode.js';
const [half, share] = [Number(process.argv[2]), process.argv[3] === 'share'];
const files = readdirSync('/tmp/exp/frames').sort().filter((_, i) => half < 0 || i % 2 === half);
const frames = files.map((f) => readFileSync('/tmp/exp/frames/' + f));
const kinds = ['object', 'face', 'edge', 'corner'] as const;
const t0 = performance.now();
for (const b of frames) {
  let img = decodeImage(b);
  for (const k of kinds) { if (!share) img = decodeImage(b); runDetector(k, img, DEFAULT_DETECTOR_CONFIG); }
}
const s = (performance.now() - t0) / 1000;
console.log(half, share ? 'share' : 'noshare', frames.length, s.toFixed(2), 's', (frames.length / s).toFixed(3), 'img/s');

/**
 * The annotator process (`--annotate`): decodes, draws and writes each finished image off
 * the master's thread. Drawing a 4K image took ~0.3 s in the master, long enough to miss
 * heartbeats (slaves reconnected and their results were dropped and run again).
 * Started by {@link AnnotatorProcess}; exits when its channel to the master closes.
 */
import { createLogger } from '../shared/logger.js';
import type { FromAnnotator, ToAnnotator } from './annotate-protocol.js';
import { Annotator } from './annotate.js';

let annotator: Annotator | undefined;

const reply = (message: FromAnnotator): void => {
  process.send?.(message);
};

process.on('message', (message: ToAnnotator) => {
  if (message.type === 'init') {
    annotator = new Annotator(message.dir, message.edge, createLogger('annotate', message.logLevel, message.logJson));
  } else if (message.type === 'image') {
    const bytes = Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength);
    const written = annotator?.add(message.record, bytes) ?? false;
    reply({ type: 'done', bytes: bytes.length, written });
  } else {
    annotator?.finish();
    reply({ type: 'finished' });
  }
});
// The master is gone (or done with us): nothing else to do.
process.on('disconnect', () => process.exit(0));
// A terminal's Ctrl-C reaches this process too (it is in the master's process group); the
// master finishes it after its last image, so the signal is the master's to act on.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('SIGHUP', () => undefined);

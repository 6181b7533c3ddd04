import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { createLogger, relayLogLines, setLogLineWriter } from '../../../shared/logger.js';

describe('unit: relaying a child process\'s log lines', () => {
  afterEach(() => {
    setLogLineWriter();
  });

  it('passes on the lines of our logger (plain and JSON) as they are, and hands any other line over escaped', async () => {
    const written: string[] = [];
    setLogLineWriter((line) => written.push(line));
    // The child's own lines, made by the same logger in both formats.
    createLogger('slave', 'info', false).warn('worker 0: ready');
    createLogger('slave', 'info', true).info('joined');
    const own = written.splice(0);
    expect(own).to.have.length(2);
    const other: string[] = [];
    const stream = new PassThrough();
    relayLogLines(stream, (text) => other.push(text));
    stream.end(`${own.join('')}libpng warning: iCCP: too short\n\n{"not":"a record"}\n(node:12) Warning: \u001b[31mred\n`);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).to.deep.equal(own);
    expect(other).to.deep.equal(['libpng warning: iCCP: too short', '{"not":"a record"}', '(node:12) Warning: \\u001b[31mred']);
  });
});

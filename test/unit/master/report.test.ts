import { expect } from 'chai';
import { renderReportHtml } from '../../../master/report-html.js';
import { buildReport, formatReport, reportHtmlPath } from '../../../master/report.js';
import { BatchStats } from '../../../master/stats.js';

describe('unit: the batch report', () => {
  /** 12 images of 4 tasks, 500 ms of compute each, on a slave of 2 threads connected for 4 s. */
  function batch(wallMs: number, processingMs: number): ReturnType<typeof buildReport> {
    const stats = new BatchStats();
    stats.imagesDone = 12;
    stats.imagesRun = 12;
    for (let i = 0; i < 48; i++) stats.addTask('face', 500 / 3, 1000);
    stats.tasksDone = 48;
    const slaves = [{ slaveId: 'pi-1', hostname: 'pi', capacity: 2, tasksDone: 48, tasksFailed: 0, computeMs: 8000, workerMs: 8000 }];
    return buildReport(stats, slaves, wallMs, processingMs, 'r.jsonl', ['face']);
  }

  it('sums up in one line the slaves that ran no task when there are more than ten (peers that READY and never answer); the JSON lists them all', () => {
    const stats = new BatchStats();
    stats.imagesDone = 1;
    stats.imagesRun = 1;
    stats.addTask('edge', 2, 10);
    stats.tasksDone = 1;
    const real = { slaveId: 'pi-1', hostname: 'pi', capacity: 2, tasksDone: 1, tasksFailed: 0, computeMs: 2, workerMs: 1000 };
    const idle = (n: number): typeof real[] => Array.from({ length: n }, (_, i) => ({ ...real, slaveId: `fake-${i}`, hostname: 'evil', tasksDone: 0, computeMs: 0 }));
    const many = buildReport(stats, [real, ...idle(11)], 1000, 1000, 'r.jsonl', ['edge']);
    const text = formatReport(many);
    expect(text).to.include('pi-1');
    expect(text).to.not.include('fake-');
    expect(text).to.include('  and 11 more slave(s) that joined and ran no task (listed in the JSON report)');
    expect(many.slaves).to.have.length(12);
    const few = formatReport(buildReport(stats, [real, ...idle(10)], 1000, 1000, 'r.jsonl', ['edge']));
    expect(few.match(/fake-/g), 'ten are listed').to.have.length(10);
    expect(few).to.not.include('more slave(s)');
  });

  it('names the HTML copy of X.json (any case) X.html, and of any other name NAME.html', () => {
    expect(['r.json', 'r.JSON', 'r.report.json', 'r.txt'].map(reportHtmlPath)).to.deep.equal(['r.html', 'r.html', 'r.report.html', 'r.txt.html']);
  });

  it('counts images/s, speed-up and a slave\'s tasks/s from the first slave on, not over the wait for it, and says how long that wait was', () => {
    // The secure flow of the README: the slave was started 25 s after the master.
    const r = batch(29_000, 4_000);
    expect([r.imagesPerSecond, r.speedUp, r.slaves[0]?.tasksPerSecond, r.parallelEfficiency]).to.deep.equal([3, 2, 12, 1]);
    expect(formatReport(r).split('\n')[1]).to.equal('Batch finished: 12 images, 48 tasks in 29.00 s, 25.00 s of it waiting for the first slave; 3.00 images/s from the first slave on');
    // A start-up under a second is not worth a mention.
    expect(formatReport(batch(4_500, 4_000)).split('\n')[1]).to.equal('Batch finished: 12 images, 48 tasks in 4.50 s; 3.00 images/s from the first slave on');
  });

  it('counts in images/s only the images a slave ran, not those failed at the master (empty or unreadable files), and gives no rate when no image reached a slave', () => {
    const stats = new BatchStats();
    stats.imagesDone = 101;
    stats.imagesFailed = 100;
    stats.imagesRun = 1;
    stats.addTask('edge', 2, 10);
    stats.tasksDone = 4;
    stats.tasksFailed = 400;
    const r = buildReport(stats, [], 780, 500, 'r.jsonl', ['edge']);
    expect([r.images, r.imagesRun, r.imagesPerSecond]).to.deep.equal([101, 1, 2]);
    expect(formatReport(r).split('\n')[1]).to.equal('Batch finished: 101 images, 404 tasks in 0.78 s; 2.00 images/s from the first slave on, counting the 1 image(s) slaves ran (the others failed at the master)');
    stats.imagesRun = 0;
    const none = buildReport(stats, [], 780, 0, 'r.jsonl', ['edge']);
    expect([none.imagesPerSecond, formatReport(none).split('\n')[1]]).to.deep.equal([0, 'Batch finished: 101 images, 404 tasks in 0.78 s']);
  });

  it('falls back to wall time when no slave ever joined', () => {
    const r = batch(10_000, 0);
    expect(r.imagesPerSecond).to.equal(1.2);
    expect(formatReport(r).split('\n')[1]).to.equal('Batch finished: 12 images, 48 tasks in 10.00 s = 1.20 images/s');
  });

  it('says there was nothing left to do when --resume found every image done, without tables of zeros', () => {
    const stats = new BatchStats();
    stats.imagesResumed = 3;
    const r = buildReport(stats, [], 12, 0, 'r.jsonl', ['edge']);
    expect(formatReport(r).split('\n')).to.deep.equal(['', 'Batch finished: nothing left to do, all 3 input images were already in the results file', 'Results: r.jsonl']);
    stats.imagesResumedFailed = 1;
    expect(formatReport(buildReport(stats, [], 12, 0, 'r.jsonl', ['edge'])).split('\n')[1]).to.equal('Batch finished: nothing left to do, all 3 input images were already in the results file; the file holds 1 image(s) with failed tasks (--overwrite runs everything again)');
    stats.imagesResumed = 1;
    expect(formatReport(buildReport(stats, [], 12, 0, 'r.jsonl', ['edge'])).split('\n')[1]).to.match(/^Batch finished: nothing left to do, the one input image was already in the results file; /);
    // Some images done in this run: the full report.
    stats.imagesDone = 1;
    stats.imagesRun = 1;
    stats.addTask('edge', 2, 3);
    stats.tasksDone = 1;
    expect(formatReport(buildReport(stats, [], 12, 10, 'r.jsonl', ['edge']))).to.match(/^\nBatch finished: 1 image, 1 task in 0\.01 s/);
  });

  it('counts the tasks of the recorded images, and names apart those done for images a stopped batch did not record', () => {
    const stats = new BatchStats();
    stats.imagesDone = 2;
    stats.imagesRun = 2;
    stats.tasksDone = 4;
    for (let i = 0; i < 5; i++) stats.addTask('edge', 2, 3);
    const r = { ...buildReport(stats, [], 1000, 900, 'r.jsonl', ['edge']), interrupted: true, stoppedBy: 'signal' as const };
    expect([r.tasks, r.tasksOfUnrecordedImages, r.kinds[0]?.tasks]).to.deep.equal([4, 1, 5]);
    expect(formatReport(r).split('\n').slice(1, 3)).to.deep.equal([
      'Batch interrupted (run again with --resume to finish): 2 images, 4 tasks in 1.00 s; 2.22 images/s from the first slave on',
      '  (and 1 task(s) done for images not recorded, whose other tasks had not finished: they run again with --resume)',
    ]);
    expect(renderReportHtml(r, { counts: [2], bucketMs: 1000 })).to.include('<p class="unrecorded">And 1 task(s) done for images not recorded');
  });

  it('the HTML page leads with the same first line, its images/s in bold', () => {
    const html = renderReportHtml(batch(29_000, 4_000), { counts: [12], bucketMs: 1000 });
    expect(html).to.include('Batch finished: 12 images, 48 tasks in 29.00 s, 25.00 s of it waiting for the first slave; <b>3.00 images/s</b> from the first slave on;');
    expect(renderReportHtml(batch(10_000, 0), { counts: [12], bucketMs: 1000 })).to.include('in 10.00 s = <b>1.20 images/s</b>;');
  });
});

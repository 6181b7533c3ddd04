import { batchEnding, rateText, type BatchReport } from './report.js';

/**
 * Renders the report as one self-contained HTML page with two inline SVG charts:
 * throughput over time (images/s per timeline bucket) and per-slave utilization
 * (compute time over wall time x threads) with task counts. No scripts, no external files.
 *
 * @param timeline - images completed per bucket, and the bucket width in ms
 */
export function renderReportHtml(r: BatchReport, timeline: { counts: readonly number[]; bucketMs: number }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cctv-cluster report</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right}th:first-child,td:first-child{text-align:left}svg text{font:11px system-ui,sans-serif}</style>
</head><body>
<h1>cctv-cluster batch report</h1>
<p${r.interrupted ? ' class="interrupted"' : ''}>${esc(batchEnding(r))}: ${r.images} images, ${r.tasks} tasks in ${(r.wallMs / 1000).toFixed(2)} s${esc(rateText(r)).replace(/[\d.]+ images\/s/, '<b>$&</b>')};
failed tasks ${r.tasksFailed} (in ${r.imagesFailed} images), retries ${r.retries}, slaves lost ${r.slavesLost}; speed-up (tasks' CPU time / processing time) ${r.speedUp.toFixed(2)}x, parallel efficiency (of the slaves' threads while connected) ${Math.round(r.parallelEfficiency * 100)}%.</p>
${r.tasksOfUnrecordedImages > 0 ? `<p class="unrecorded">And ${r.tasksOfUnrecordedImages} task(s) done for images not recorded, whose other tasks had not finished: they run again with --resume.</p>\n` : ''}${(r.annotatedMissing ?? 0) > 0 ? `<p class="annotated-missing">Annotated copies not written: ${r.annotatedMissing ?? 0}.</p>\n` : ''}${r.imagesResumed > 0 ? `<p class="resumed">${r.imagesResumed} images were already in the results file and were skipped${r.imagesResumedFailed > 0 ? `; the file holds ${r.imagesResumedFailed} image(s) with failed tasks` : ''}.</p>\n` : ''}<h2>Throughput over time</h2>
${throughputSvg(timeline)}
<h2>Slaves</h2>
${slavesSvg(r)}
<h2>Tasks by kind</h2>
<table><tr><th>kind</th><th>tasks</th><th>mean ms</th><th>p50 ms</th><th>p95 ms</th><th>max ms</th></tr>
${r.kinds.map((k) => `<tr><td>${esc(k.kind)}</td><td>${k.tasks}</td><td>${k.meanMs.toFixed(1)}</td><td>${k.p50Ms.toFixed(1)}</td><td>${k.p95Ms.toFixed(1)}</td><td>${k.maxMs.toFixed(1)}</td></tr>`).join('\n')}
</table>
<p>Results: ${esc(r.resultsFile)}</p>
</body></html>
`;
}

/** Chart width and height, and the margin around the plot, SVG px. */
const W = 720;
const H = 220;
const PAD = 40;

function throughputSvg(t: { counts: readonly number[]; bucketMs: number }): string {
  const rates = t.counts.map((c) => (c * 1000) / t.bucketMs);
  const max = Math.max(1, ...rates);
  const n = Math.max(1, rates.length);
  const x = (i: number): number => PAD + ((W - 2 * PAD) * i) / n;
  const y = (v: number): number => H - PAD - ((H - 2 * PAD) * v) / max;
  const points = rates.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)} ${x(i + 1).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const seconds = (n * t.bucketMs) / 1000;
  return `<svg class="throughput" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="images per second over time">
<line x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}" stroke="#888"/><line x1="${PAD}" y1="${PAD}" x2="${PAD}" y2="${H - PAD}" stroke="#888"/>
<polyline fill="none" stroke="#2a6fdb" stroke-width="2" points="${points}"/>
<text x="${PAD - 4}" y="${PAD + 4}" text-anchor="end">${max.toFixed(1)}</text><text x="${PAD - 4}" y="${H - PAD}" text-anchor="end">0</text>
<text x="${W - PAD}" y="${H - PAD + 16}" text-anchor="end">${seconds.toFixed(0)} s</text><text x="${PAD}" y="${H - PAD + 16}">0 s</text>
<text x="${PAD}" y="${PAD - 10}">images/s (buckets of ${t.bucketMs / 1000} s)</text>
</svg>`;
}

function slavesSvg(r: BatchReport): string {
  const rowH = 26;
  const h = PAD + rowH * Math.max(1, r.slaves.length);
  const barW = W - 2 * PAD - 160;
  const rows = r.slaves.map((s, i) => {
    const y = PAD / 2 + i * rowH;
    const w = Math.max(0, Math.min(1, s.utilization)) * barW;
    return `<text x="0" y="${y + 15}">${esc(s.slaveId.slice(0, 24))}</text><rect class="slave" x="160" y="${y}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="#3c9d5d"/><rect x="160" y="${y}" width="${barW}" height="${rowH - 8}" fill="none" stroke="#bbb"/><text x="${164 + barW}" y="${y + 15}">${Math.round(s.utilization * 100)}% of ${s.threads} thread(s), ${s.tasks} tasks</text>`;
  });
  return `<svg class="slaves" width="${W + 120}" height="${h}" viewBox="0 0 ${W + 120} ${h}" role="img" aria-label="per-slave utilization">${rows.join('\n')}</svg>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}

import cliProgress from 'cli-progress';
import { setLogLineWriter } from '../shared/logger.js';
import type { ProgressSink, ProgressState } from './master.js';

/**
 * Seconds of batch before a rate (and an ETA) is shown: a corrupt image failed in the first
 * 60 ms read as 16.67 images/s, with an ETA of 1 s, before any slave had joined.
 */
const MIN_RATE_WINDOW_S = 2;

/**
 * Progress display: a cli-progress bar on a terminal (images done/total, rate, ETA, live
 * slaves, failures), or a plain line every `plainIntervalMs` when stderr is not a TTY.
 * Images a resumed results file already held count as done; the rate and the ETA are this
 * run's, shown once `minRateWindowS` (s) of it have passed.
 *
 * @param mode - `auto`: a bar when stderr is a terminal, else plain lines; `none`: no display
 * @param writeLine - where a plain line goes (default stderr; under --log-json, a log record)
 * @returns the display, or undefined for `none`
 */
export function createProgress(mode: 'auto' | 'bar' | 'plain' | 'none', plainIntervalMs = 5000, writeLine?: (line: string) => void, minRateWindowS = MIN_RATE_WINDOW_S): ProgressSink | undefined {
  if (mode === 'none') return undefined;
  const useBar = mode === 'bar' || (mode === 'auto' && process.stderr.isTTY);
  return useBar ? new BarProgress(minRateWindowS) : new PlainProgress(plainIntervalMs, minRateWindowS, writeLine);
}

class BarProgress implements ProgressSink {
  private readonly bar: cliProgress.SingleBar;
  private total = 0;
  /** {@link total} is a lower bound ({@link ProgressSink.setTotal}). */
  private atLeast = false;
  private readonly startedMs = Date.now();
  private started = false;

  constructor(private readonly minRateWindowS: number) {
    this.bar = new cliProgress.SingleBar(
      {
        format: ' {bar} {value}/{totalText} images | {rate} img/s | ETA {etaText} | slaves {slaves} | in flight {inFlight} | failed {failed}',
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
        // Redraw every frame even when nothing changed: a log line clears the bar's line
        // (below) and the bar comes back on the next frame, under it.
        forceRedraw: true,
        // `--progress bar` asked for by name draws also into a file or pipe (cli-progress
        // draws nothing there by default: the user saw no progress at all).
        noTTYOutput: true,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  setTotal(total: number, exact = true): void {
    this.total = total;
    this.atLeast = !exact;
    if (this.started) this.bar.setTotal(total);
  }

  update(s: ProgressState): void {
    this.draw(s, false);
  }

  /** Draws `s`; `final`: the batch is over, so its rate is shown however short it was (a 1.4 s batch ended on "0.00 img/s"). */
  private draw(s: ProgressState, final: boolean): void {
    const elapsedS = (Date.now() - this.startedMs) / 1000;
    const rate = elapsedS > 0 && (final || elapsedS >= this.minRateWindowS) ? s.done / elapsedS : 0;
    const value = s.done + s.skipped;
    const eta = this.total > 0 && !this.atLeast && rate > 0 ? Math.max(0, (this.total - value) / rate) : undefined;
    const payload = {
      rate: rate.toFixed(2),
      slaves: s.slaves,
      inFlight: s.inFlight,
      failed: s.failed,
      totalText: totalText(this.total, this.atLeast, value) ?? '?',
      etaText: eta === undefined ? '?' : `${Math.round(eta)}s`,
    };
    if (!this.started) {
      this.started = true;
      this.bar.start(Math.max(this.total, 1), value, payload);
      setLogLineWriter((line) => {
        process.stderr.write(`\r\x1b[2K${line}`);
      });
    } else {
      if ((this.total === 0 || this.atLeast) && value >= this.bar.getTotal()) this.bar.setTotal(value + 1);
      this.bar.update(value, payload);
    }
  }

  stop(final?: ProgressState): void {
    if (!this.started) return;
    if (final !== undefined) {
      this.setTotal(final.done + final.skipped, true);
      this.draw(final, true);
    }
    setLogLineWriter();
    this.bar.stop();
  }
}

class PlainProgress implements ProgressSink {
  private total = 0;
  /** {@link total} is a lower bound ({@link ProgressSink.setTotal}). */
  private atLeast = false;
  private lastMs = 0;
  private readonly startedMs = Date.now();

  /** @param writeLine - where a line goes (without its newline): stderr, or a log record under --log-json */
  constructor(
    private readonly intervalMs: number,
    private readonly minRateWindowS: number,
    private readonly writeLine: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  setTotal(total: number, exact = true): void {
    this.total = total;
    this.atLeast = !exact;
  }

  update(s: ProgressState): void {
    const now = Date.now();
    if (now - this.lastMs < this.intervalMs) return;
    this.lastMs = now;
    const elapsedS = (now - this.startedMs) / 1000;
    const rate = elapsedS > 0 && elapsedS >= this.minRateWindowS ? s.done / elapsedS : 0;
    const value = s.done + s.skipped;
    const total = totalText(this.total, this.atLeast, value);
    const parts = [`${value}${total === undefined ? '' : `/${total}`} images`, `${rate.toFixed(2)} img/s`];
    if (this.total > 0 && !this.atLeast && rate > 0) parts.push(`ETA ${Math.max(0, Math.round((this.total - value) / rate))}s`);
    parts.push(`slaves ${s.slaves}`, `in flight ${s.inFlight}`, `failed ${s.failed}`);
    this.writeLine(`progress: ${parts.join(', ')}`);
  }

  stop(): void {
    // Nothing to tidy: plain lines are already complete.
  }
}

/** The total as shown: undefined when unknown; `N+` when only a lower bound, never below the images seen. */
function totalText(total: number, atLeast: boolean, seen: number): string | undefined {
  if (total <= 0) return undefined;
  return atLeast ? `${Math.max(total, seen)}+` : String(total);
}

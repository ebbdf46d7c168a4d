/** The terminal's width; 80 when it does not say (0 under some pseudo-terminals). */
function terminalWidth(): number {
  return process.stderr.columns || 80;
}

/** A one-line progress bar on stderr, drawn only when stderr is a terminal. */
export class ProgressBar {
  readonly #total: number;
  readonly #enabled: boolean;
  readonly #start = Date.now();
  #done = 0;

  constructor(total: number, enabled: boolean) {
    this.#total = Math.max(1, total);
    this.#enabled = enabled && process.stderr.isTTY === true;
  }

  /** Shows what runs now; call tick() when it finished. */
  show(label: string): void {
    if (!this.#enabled) return;
    const width = 30;
    const filled = Math.round((this.#done / this.#total) * width);
    const elapsed = (Date.now() - this.#start) / 1000;
    const eta = this.#done > 0 ? (elapsed / this.#done) * (this.#total - this.#done) : NaN;
    const etaText = Number.isFinite(eta) ? ` ~${Math.ceil(eta)} s left` : '';
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.#done}/${this.#total} ${label}${etaText}`;
    const cols = terminalWidth();
    process.stderr.write(`\r${line.slice(0, cols - 1).padEnd(cols - 1)}`);
  }

  tick(): void {
    this.#done++;
  }

  clear(): void {
    if (!this.#enabled) return;
    process.stderr.write(`\r${' '.repeat(terminalWidth() - 1)}\r`);
  }
}

/** Progress lines on stderr, so stdout stays the table. */
export class Progress {
  private readonly started = performance.now()

  constructor(private readonly enabled = true) {}

  elapsed(): string {
    const s = (performance.now() - this.started) / 1000
    return `${Math.floor(s / 60)}:${(s % 60).toFixed(1).padStart(4, '0')}`
  }

  log(message: string): void {
    if (this.enabled) process.stderr.write(`[bench ${this.elapsed()}] ${message}\n`)
  }
}

// Preload for a diagnostic re-run (scripts/run-tests.mjs): uvu prints a
// failure's `details` with details.split('\n'), which throws for an error
// whose details are an object (every ConcordError), and the failure is then
// not printed at all. Here objects print as JSON instead. Only for the
// re-run of a file whose failure went unprinted: it changes Object.prototype.
Object.defineProperty(Object.prototype, 'split', {
  value() {
    return [JSON.stringify(this)]
  },
  configurable: true,
  writable: true,
})

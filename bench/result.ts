/** A benchmark result, as every script of bench/ reports it. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** The target the number must reach (same unit), when an issue names one. */
  target?: number;
  config: Record<string, unknown>;
}

/** Prints a result with its configuration. */
export function printResult(r: BenchResult): void {
  console.log(`\n${r.name}`);
  for (const [key, value] of Object.entries(r.config)) console.log(`  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const verdict = r.target === undefined ? '' : r.value >= r.target ? `  (target ≥ ${r.target.toLocaleString('en-US')}: met)` : `  (target ≥ ${r.target.toLocaleString('en-US')}: NOT met)`;
  console.log(`  → ${r.value.toLocaleString('en-US')} ${r.unit}${verdict}`);
}

/** Whether this module is the script node was started with. */
export function isMainModule(url: string): boolean {
  return process.argv[1] !== undefined && url === new URL(`file://${process.argv[1]}`).href;
}

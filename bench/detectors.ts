/**
 * Failure-detector experiment: heartbeat timeout against phi accrual.
 *
 * Not a pass/fail test: it measures, in virtual time, how often each
 * detector suspects a live peer and how quickly it suspects a crashed one,
 * and compares the two at equal false-suspicion rates.
 *
 * ## Model
 *
 * - A link delivers heartbeats whose inter-arrival times are independent
 *   draws of `max(1, N(1000 ms, σ))` from `new Random(seed).derive(…)`.
 *   The interval is 1000 ms (Akka's default heartbeat interval) so that the
 *   widest jitter, σ = 500 ms, is still mostly a normal distribution (2 % of
 *   draws truncated) rather than a pile-up at 1 ms.
 * - Scenarios: one per jitter level σ ∈ {10, 25, 50, 100, 200, 500} ms, where
 *   every link has that σ; `mixed`, where link i has σ = levels[i mod 6] (a
 *   cluster whose links differ, judged with one setting); and `drift/P`,
 *   where every link's own jitter switches between σ = 25 and σ = 200 every
 *   P heartbeats (P = 1500 and 6000), starting at a random phase.
 * - Each link runs `warmup` heartbeats (the phi window fills, the seeds of
 *   the first-heartbeat estimate age out) and then `measured` heartbeats.
 * - Detectors: `PhiAccrualDetector` at φ ∈ {1, 2, 4, 8, 12} with Akka's
 *   defaults (window 1000, min σ 100 ms, first estimate 1000 ms, acceptable
 *   pause 0), and `HeartbeatDetector` at 1.5×, 2×, 3×, 5× the interval and
 *   one timeout "matched" to the jitter: 1000 + y₈·σ (y₈ ≈ 5.22, where
 *   phi 8 would sit if it knew σ exactly and had no floor; for `mixed` and
 *   `drift/P`, the largest σ of the scenario).
 * - (a) False suspicion: the fraction of the measured time during which a
 *   live peer is suspected. It is computed exactly rather than by polling:
 *   after each heartbeat the detector reports `suspectAt()`, and the part of
 *   the gap to the next heartbeat that lies beyond it is suspected time.
 *   (Polling every 10 ms would give the same number to within 10 ms per gap.)
 * - (b) Detection time: `crashes` crash instants per link, uniform over the
 *   measured time; after a crash no heartbeat arrives, so the peer is
 *   suspected at the `suspectAt()` of the last heartbeat before the crash.
 *   Detection time = max(0, that − crash). Mean and p99 are reported.
 * - Equal false suspicion: for each φ threshold, the smallest heartbeat
 *   timeout whose false-suspicion rate on the same heartbeats is ≤ phi's,
 *   by bisection (on sorted gaps with suffix sums, so each step is
 *   O(log n)). When phi has no false suspicion at all, that timeout is the
 *   largest gap observed: a timeout tuned in hindsight to this very sample,
 *   which flatters it; such rows are marked.
 *
 * What to expect, and what the numbers say (seed 1): with one fixed jitter,
 * phi accrual over a stationary history is a timeout at mean + y·σ, so at
 * equal false suspicion the two tie (ratio 1.00 on every row where phi has
 * false suspicions; the rows where it has none favour the timeout tuned in
 * hindsight). When links differ (`mixed`), phi adapts per link and detects
 * 1.7–1.9× sooner at φ 2 and 4 (1.8× at φ 8, against a timeout tuned in
 * hindsight; at φ 1, 0.9×). When a link's own jitter jumps (`drift/P`),
 * phi's window lags: its false suspicions cluster after each rise in
 * jitter, and at equal false suspicion the timeout is as fast or faster.
 *
 * Everything is a pure function of the seed. Run: `npx tsx bench/detectors.ts`
 */
import { HeartbeatDetector, type FailureDetector } from '../actors/heartbeatDetector.js';
import { PhiAccrualDetector } from '../actors/phiAccrualDetector.js';
import { Random } from '../system/random.js';
import { isMainModule, type BenchResult } from './result.js';

/** Options of the experiment. */
export interface DetectorBenchOptions {
  seed: number;
  /** Mean heartbeat interval (ms). */
  intervalMs: number;
  /** Links simulated per scenario. */
  links: number;
  /** Heartbeats per link before measuring. */
  warmup: number;
  /** Heartbeats per link measured. */
  measured: number;
  /** Crash instants sampled per link. */
  crashes: number;
  /** Jitter levels σ (ms), one scenario each. */
  jitters: number[];
  phiThresholds: number[];
  /** Heartbeat timeouts, as multiples of the interval. */
  timeoutMultiples: number[];
  /** The two jitter levels (ms) a drifting link switches between. */
  driftSigmas: [number, number];
  /** Heartbeats between switches, one drifting scenario each. */
  driftPeriods: number[];
  /** Minimum standard deviation of the phi detector (ms); Akka's default is 100. */
  phiMinStdDeviationMs: number;
}

const DEFAULTS: DetectorBenchOptions = {
  seed: 1,
  intervalMs: 1000,
  links: 200,
  warmup: 1000,
  measured: 5000,
  crashes: 200,
  jitters: [10, 25, 50, 100, 200, 500],
  phiThresholds: [1, 2, 4, 8, 12],
  timeoutMultiples: [1.5, 2, 3, 5],
  driftSigmas: [25, 200],
  driftPeriods: [1500, 6000],
  phiMinStdDeviationMs: 100,
};

/** The standardized delay at which Akka's approximation of phi reaches 8 (solved once, by bisection). */
const Y8 = (() => {
  const phi = (y: number) => Math.log10(1 + Math.exp(y * (1.5976 + 0.070566 * y * y)));
  let lo = 0;
  let hi = 20;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (phi(mid) >= 8) hi = mid;
    else lo = mid;
  }
  return hi;
})();

interface Scenario {
  name: string;
  /** Jitter σ of link `link` for its heartbeat number `beat`. */
  sigma: (link: number, beat: number, phase: number) => number;
  /** Largest σ in the scenario (for the "matched" timeout). */
  worstSigma: number;
  /** Each link starts at a random phase in [0, phases) (heartbeats). */
  phases?: number;
}

/** Arrival times of every link of a scenario, and the crash instants sampled on them. */
interface Workload {
  /** arrivals[link] = heartbeat arrival times (ms). */
  arrivals: Float64Array[];
  /** For each sampled crash: the link, and the instant. */
  crashLink: Int32Array;
  crashAt: Float64Array;
  /** Gap index (heartbeat before the crash) of each crash. */
  crashBeat: Int32Array;
  /** Total measured time over all links (ms). */
  measuredMs: number;
  /** Measured gaps, sorted ascending, with suffix sums (for the timeout's bisection). */
  gapsSorted: Float64Array;
  gapsSuffix: Float64Array;
  /** crash − last heartbeat before it, sorted ascending, with prefix sums. */
  offsetsSorted: Float64Array;
  offsetsPrefix: Float64Array;
}

function workload(o: DetectorBenchOptions, s: Scenario): Workload {
  const root = new Random(o.seed).derive(`detectors/${s.name}`);
  const arrivals: Float64Array[] = [];
  const total = o.warmup + o.measured;
  const gaps: number[] = [];
  let measuredMs = 0;
  const crashLink = new Int32Array(o.links * o.crashes);
  const crashAt = new Float64Array(o.links * o.crashes);
  const crashBeat = new Int32Array(o.links * o.crashes);
  const offsets = new Float64Array(o.links * o.crashes);
  for (let link = 0; link < o.links; link++) {
    const rng = root.derive(`link${link}`);
    const phase = rng.int(0, (s.phases ?? 1) - 1);
    const a = new Float64Array(total + 1);
    for (let i = 1; i <= total; i++) a[i] = a[i - 1] + Math.max(1, rng.normal(o.intervalMs, s.sigma(link, i, phase)));
    arrivals.push(a);
    for (let i = o.warmup; i < total; i++) gaps.push(a[i + 1] - a[i]);
    const from = a[o.warmup];
    const to = a[total];
    measuredMs += to - from;
    const crashes = root.derive(`crash${link}`);
    for (let c = 0; c < o.crashes; c++) {
      const at = crashes.uniform(from, to);
      // The heartbeat before the crash: binary search in the measured range.
      let lo = o.warmup;
      let hi = total;
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        if (a[mid] <= at) lo = mid;
        else hi = mid;
      }
      const k = link * o.crashes + c;
      crashLink[k] = link;
      crashAt[k] = at;
      crashBeat[k] = lo;
      offsets[k] = at - a[lo];
    }
  }
  const gapsSorted = Float64Array.from(gaps).sort();
  const gapsSuffix = new Float64Array(gapsSorted.length + 1);
  for (let i = gapsSorted.length - 1; i >= 0; i--) gapsSuffix[i] = gapsSuffix[i + 1] + gapsSorted[i];
  const offsetsSorted = offsets.sort();
  const offsetsPrefix = new Float64Array(offsetsSorted.length + 1);
  for (let i = 0; i < offsetsSorted.length; i++) offsetsPrefix[i + 1] = offsetsPrefix[i] + offsetsSorted[i];
  return { arrivals, crashLink, crashAt, crashBeat, measuredMs, gapsSorted, gapsSuffix, offsetsSorted, offsetsPrefix };
}

/** What one detector configuration scored on a workload. */
interface Score {
  /** Fraction of measured time a live peer was suspected. */
  falseSuspicion: number;
  detectMeanMs: number;
  detectP99Ms: number;
}

/** First index i with sorted[i] > x. */
function upperBound(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Runs fresh detectors from `make` over every link, as the simulation would (heartbeat, then ask when it would suspect). */
function simulate(o: DetectorBenchOptions, w: Workload, make: () => FailureDetector): Score {
  const total = o.warmup + o.measured;
  let suspectedMs = 0;
  const delays = new Float64Array(w.crashAt.length);
  const suspectAt = new Float64Array(total + 1);
  for (let link = 0; link < w.arrivals.length; link++) {
    const a = w.arrivals[link];
    const d = make();
    for (let i = 0; i <= total; i++) {
      d.heartbeat(a[i]);
      suspectAt[i] = d.suspectAt();
    }
    for (let i = o.warmup; i < total; i++) {
      const from = Math.min(Math.max(suspectAt[i], a[i]), a[i + 1]);
      suspectedMs += a[i + 1] - from;
    }
    for (let k = link * o.crashes; k < (link + 1) * o.crashes; k++) delays[k] = Math.max(0, suspectAt[w.crashBeat[k]] - w.crashAt[k]);
  }
  delays.sort();
  let sum = 0;
  for (const x of delays) sum += x;
  return { falseSuspicion: suspectedMs / w.measuredMs, detectMeanMs: sum / delays.length, detectP99Ms: quantile(delays, 0.99) };
}

/** The heartbeat timeout's score at timeout T, from the sorted gaps and crash offsets (same numbers `simulate` gives, in O(log n)). */
function timeoutScore(w: Workload, T: number): Score {
  const g = upperBound(w.gapsSorted, T);
  const suspected = w.gapsSuffix[g] - T * (w.gapsSorted.length - g);
  const n = w.offsetsSorted.length;
  const c = upperBound(w.offsetsSorted, T); // crashes less than T after their heartbeat wait T − offset
  const detectSum = T * c - w.offsetsPrefix[c];
  return { falseSuspicion: suspected / w.measuredMs, detectMeanMs: detectSum / n, detectP99Ms: Math.max(0, T - quantile(w.offsetsSorted, 0.01)) };
}

/** Smallest timeout whose false-suspicion rate is ≤ `target` (bisection; the rate falls as T grows). */
function timeoutForFalseSuspicion(w: Workload, target: number): number {
  let hi = w.gapsSorted[w.gapsSorted.length - 1]; // no gap exceeds it: rate 0
  if (target <= 0) return hi;
  let lo = 0;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (timeoutScore(w, mid).falseSuspicion <= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** One row of the comparison: a phi threshold against the heartbeat timeout with the same or lower false suspicion. */
export interface DetectorComparison {
  scenario: string;
  threshold: number;
  phi: Score;
  timeoutMs: number;
  timeout: Score;
  /** True when phi had no false suspicion: the timeout was tuned to the largest gap of this very sample. */
  degenerate: boolean;
}

/** One row of the raw table. */
export interface DetectorRow {
  scenario: string;
  detector: string;
  score: Score;
}

function scenarios(o: DetectorBenchOptions): Scenario[] {
  const fixed = o.jitters.map((sigma): Scenario => ({ name: `σ=${sigma}`, sigma: () => sigma, worstSigma: sigma }));
  const worst = Math.max(...o.jitters);
  return [
    ...fixed,
    { name: 'mixed', sigma: (link) => o.jitters[link % o.jitters.length], worstSigma: worst },
    ...o.driftPeriods.map(
      (period): Scenario => ({
        name: `drift/${period}`,
        sigma: (_link, beat, phase) => o.driftSigmas[Math.floor((beat + phase) / period) % 2],
        worstSigma: Math.max(...o.driftSigmas),
        phases: 2 * period,
      }),
    ),
  ];
}

/** Runs the experiment; returns the raw rows and the comparisons. */
export function runDetectorExperiment(options: Partial<DetectorBenchOptions> = {}): { options: DetectorBenchOptions; rows: DetectorRow[]; comparisons: DetectorComparison[]; wallMs: number } {
  const o = { ...DEFAULTS, ...options };
  const t0 = performance.now();
  const rows: DetectorRow[] = [];
  const comparisons: DetectorComparison[] = [];
  for (const s of scenarios(o)) {
    const w = workload(o, s);
    for (const threshold of o.phiThresholds) {
      const phi = simulate(o, w, () => new PhiAccrualDetector({ threshold, minStdDeviationMs: o.phiMinStdDeviationMs }));
      rows.push({ scenario: s.name, detector: `phi ${threshold}`, score: phi });
      const timeoutMs = timeoutForFalseSuspicion(w, phi.falseSuspicion);
      comparisons.push({ scenario: s.name, threshold, phi, timeoutMs, timeout: timeoutScore(w, timeoutMs), degenerate: phi.falseSuspicion === 0 });
    }
    const timeouts = o.timeoutMultiples.map((m) => ({ label: `timeout ${m}×`, ms: m * o.intervalMs }));
    timeouts.push({ label: `timeout matched ${Math.round(o.intervalMs + Y8 * s.worstSigma)}`, ms: o.intervalMs + Y8 * s.worstSigma });
    for (const { label, ms } of timeouts) {
      const score = simulate(o, w, () => new HeartbeatDetector({ timeoutMs: ms }, 0));
      // The closed form used by the bisection must agree with the detector itself.
      const check = timeoutScore(w, ms);
      if (Math.abs(check.falseSuspicion - score.falseSuspicion) > 1e-9 || Math.abs(check.detectMeanMs - score.detectMeanMs) > 1e-6) {
        throw new Error(`timeout closed form disagrees with HeartbeatDetector at ${ms} ms: ${JSON.stringify({ check, score })}`);
      }
      rows.push({ scenario: s.name, detector: label, score });
    }
  }
  return { options: o, rows, comparisons, wallMs: performance.now() - t0 };
}

/**
 * The experiment as bench results: one per scenario and phi threshold, its
 * value the ratio of the equal-false-suspicion timeout's mean detection time
 * to phi's (> 1: phi detects sooner).
 */
export function benchDetectors(options: Partial<DetectorBenchOptions> = {}): BenchResult[] {
  const { options: o, comparisons, wallMs } = runDetectorExperiment(options);
  return comparisons.map((c) => ({
    name: `failure detectors, ${c.scenario}, phi ${c.threshold} vs heartbeat timeout at equal false suspicion`,
    value: round(c.timeout.detectMeanMs / c.phi.detectMeanMs, 3),
    unit: '× (timeout mean detection ÷ phi mean detection)',
    config: {
      falseSuspicionPhi: c.phi.falseSuspicion,
      falseSuspicionTimeout: c.timeout.falseSuspicion,
      timeoutMs: round(c.timeoutMs, 1),
      phiDetectMeanMs: round(c.phi.detectMeanMs, 1),
      phiDetectP99Ms: round(c.phi.detectP99Ms, 1),
      timeoutDetectMeanMs: round(c.timeout.detectMeanMs, 1),
      timeoutDetectP99Ms: round(c.timeout.detectP99Ms, 1),
      degenerate: c.degenerate,
      intervalMs: o.intervalMs,
      links: o.links,
      heartbeatsPerLink: `${o.warmup} warm-up + ${o.measured} measured`,
      crashesPerLink: o.crashes,
      seed: o.seed,
      wallMs: Math.round(wallMs),
    },
  }));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function pct(x: number): string {
  if (x === 0) return '0';
  return x >= 1e-3 ? `${(x * 100).toFixed(2)}%` : `${(x * 100).toExponential(1)}%`;
}

function pad(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
}

if (isMainModule(import.meta.url)) {
  const { options: o, rows, comparisons, wallMs } = runDetectorExperiment();
  console.log('Failure detectors: heartbeat timeout vs phi accrual (virtual time, pure computation)');
  console.log(`  heartbeat interval ${o.intervalMs} ms, inter-arrival max(1, N(${o.intervalMs}, σ)); σ ∈ {${o.jitters.join(', ')}} ms,`);
  console.log(`  plus mixed (link i: σ = levels[i mod ${o.jitters.length}]) and drift/P (each link: σ ${o.driftSigmas.join(' ↔ ')} every P beats, P ∈ {${o.driftPeriods.join(', ')}})`);
  console.log(`  ${o.links} links × (${o.warmup} warm-up + ${o.measured} measured heartbeats), ${o.crashes} crash instants per link, seed ${o.seed}`);
  console.log(`  phi: window 1000, min σ ${o.phiMinStdDeviationMs} ms, first estimate 1000 ms, pause 0 (Akka's defaults: min σ 100), thresholds ${o.phiThresholds.join(', ')}`);
  console.log(`  timeout: ${o.timeoutMultiples.map((m) => `${m}×`).join(', ')} the interval, and matched = ${o.intervalMs} + ${Y8.toFixed(2)}·σ (worst σ of the scenario)`);
  console.log('  false suspicion = fraction of the time a live peer is suspected; detection = crash → suspected (ms)\n');

  const w1 = [12, 24, 12, 10, 10];
  console.log(pad(['scenario', 'detector', 'false susp.', 'detect mean', 'detect p99'], w1));
  for (const r of rows) console.log(pad([r.scenario, r.detector, pct(r.score.falseSuspicion), r.score.detectMeanMs.toFixed(0), r.score.detectP99Ms.toFixed(0)], w1));

  console.log('\nAt equal false suspicion: each phi threshold against the smallest timeout with the same or lower false-suspicion rate');
  const w2 = [10, 4, 11, 9, 9, 9, 11, 9, 9, 8];
  console.log(pad(['scenario', 'phi', 'false susp.', 'phi mean', 'phi p99', 'timeout', 'false susp.', 'to. mean', 'to. p99', 'to./phi'], w2));
  for (const c of comparisons) {
    console.log(
      pad(
        [c.scenario, c.threshold, pct(c.phi.falseSuspicion), c.phi.detectMeanMs.toFixed(0), c.phi.detectP99Ms.toFixed(0), c.timeoutMs.toFixed(0), pct(c.timeout.falseSuspicion), c.timeout.detectMeanMs.toFixed(0), c.timeout.detectP99Ms.toFixed(0), `${(c.timeout.detectMeanMs / c.phi.detectMeanMs).toFixed(2)}${c.degenerate ? '*' : ''}`],
        w2,
      ),
    );
  }
  console.log('\n  to./phi > 1: phi detects sooner at the same false-suspicion rate. * phi had no false suspicion; the timeout is the largest gap of this sample (tuned in hindsight).');
  console.log('\nSummary (to./phi over the rows where phi has false suspicions, i.e. the comparison is not degenerate):');
  const groups = new Map<string, DetectorComparison[]>();
  for (const c of comparisons) {
    if (c.degenerate) continue;
    const key = c.scenario.startsWith('σ=') ? 'fixed σ' : c.scenario;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const [key, cs] of groups) {
    const ratios = cs.map((c) => c.timeout.detectMeanMs / c.phi.detectMeanMs);
    const detail = cs.map((c) => `${c.scenario.startsWith('σ=') ? `${c.scenario} ` : ''}φ${c.threshold} ${(c.timeout.detectMeanMs / c.phi.detectMeanMs).toFixed(2)}`).join(', ');
    console.log(`  ${key.padEnd(10)} ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}  (${detail})`);
  }
  console.log(`  wall time ${(wallMs / 1000).toFixed(1)} s`);
}

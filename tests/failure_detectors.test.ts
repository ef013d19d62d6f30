import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HeartbeatDetector } from '../actors/heartbeatDetector.js';
import { accrualPhi, DEFAULT_PHI_ACCRUAL_CONFIG, MAX_PHI, PhiAccrualDetector, type PhiAccrualInput } from '../actors/phiAccrualDetector.js';
import { Random } from '../system/random.js';

/*
 * The expected values below are computed here, from the formula, without the
 * detector's code: the history's mean and population standard deviation by
 * plain summation, and phi the way Akka writes it,
 *   e = exp(-y (1.5976 + 0.070566 y²)),  y = (t - mean) / σ
 *   phi = t > mean ? -log10(e / (1 + e)) : -log10(1 - 1 / (1 + e)).
 */
function naivePhi(elapsed: number, mean: number, sd: number): number {
  const y = (elapsed - mean) / sd;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  return elapsed > mean ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e));
}

function stats(xs: readonly number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) * (b - mean), 0) / xs.length;
  return { mean, sd: Math.sqrt(v) };
}

/** The standardized delay y at which naivePhi reaches `threshold` (bisection; phi grows with y). */
function naiveYAt(threshold: number): number {
  let lo = -50;
  let hi = 50;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (naivePhi(mid, 0, 1) >= threshold) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Heartbeats at `t0`, then every `interval` ms plus normal jitter `sd` (at least 1 ms); returns the detector and the intervals sent. */
function feed(d: PhiAccrualDetector, n: number, interval: number, sd: number, rng: Random, t0 = 0): { t: number; intervals: number[] } {
  let t = t0;
  d.heartbeat(t);
  const intervals: number[] = [];
  for (let i = 0; i < n; i++) {
    const dt = Math.max(1, rng.normal(interval, sd));
    t += dt;
    intervals.push(dt);
    d.heartbeat(t);
  }
  return { t, intervals };
}

describe('phi accrual detector', () => {
  it('test_phi_accrual_detection: phi follows the formula, is low after a heartbeat, rises with silence and crosses 8 where the formula says', () => {
    const d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 100, minStdDeviationMs: 1 });
    const { t: last, intervals } = feed(d, 300, 100, 10, new Random(7));

    // The history: the two seeds of the first heartbeat (100 ∓ 25) and every interval since.
    expect(d.samples).toBe(302);
    const { mean, sd } = stats([75, 125, ...intervals]);
    expect(d.mean).toBeCloseTo(mean, 9);
    expect(d.stdDeviation).toBeCloseTo(sd, 9);
    expect(sd).toBeGreaterThan(5); // jitter σ 10 plus the seeds: well above the 1 ms floor, so the history's σ is what counts

    // Phi against the formula at silences from 0 to well past the threshold.
    for (let elapsed = 0; elapsed <= 250; elapsed += 0.5) {
      const want = naivePhi(elapsed, mean, sd);
      expect(d.phi(last + elapsed)).toBeCloseTo(want, 6);
    }

    // Right after a regular heartbeat: no suspicion.
    expect(d.phi(last)).toBeLessThan(1);
    expect(d.phi(last + 10)).toBeLessThan(1);
    expect(d.isAvailable(last)).toBe(true);
    // At the mean silence, F = 1/2: phi = log10 2.
    expect(d.phi(last + mean)).toBeCloseTo(Math.log10(2), 9);

    // Rising monotonically with silence, on a 0.1 ms grid, until the threshold.
    let prev = -1;
    let crossing = NaN;
    for (let elapsed = 0; elapsed <= 400; elapsed += 0.1) {
      const phi = d.phi(last + elapsed);
      expect(phi).toBeGreaterThanOrEqual(prev);
      prev = phi;
      if (Number.isNaN(crossing) && phi >= 8) crossing = elapsed;
    }
    // Crossing 8 at mean + y8·σ, with y8 from the formula (≈ 5.22): within the grid step and a hair of σ.
    const y8 = naiveYAt(8);
    expect(y8).toBeGreaterThan(5.1);
    expect(y8).toBeLessThan(5.3);
    const expected = mean + y8 * sd;
    expect(Math.abs(crossing - expected)).toBeLessThanOrEqual(0.1 + 1e-6 * sd);
    expect(d.isAvailable(last + expected - 0.01 * sd)).toBe(true);
    expect(d.isAvailable(last + expected + 0.01 * sd)).toBe(false);
    expect(d.suspectAt()).toBeCloseTo(last + expected, 6);

    // A heartbeat brings phi back down.
    d.heartbeat(last + 200);
    expect(d.phi(last + 200)).toBeLessThan(1);
  });

  it('keeps only maxSampleSize intervals; after 2000 heartbeats the mean tracks the newer rate', () => {
    const d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 100 }); // default window 1000, min σ 100
    const rng = new Random(11);
    const first = feed(d, 1000, 100, 5, rng);
    expect(d.samples).toBe(1000); // 2 seeds + 1000 intervals, capped: the seeds are gone
    expect(d.mean).toBeCloseTo(stats(first.intervals).mean, 6);

    // The rate halves: heartbeats every 200 ms. 1000 more and the window holds only the new rate.
    const second: number[] = [];
    let t = first.t;
    for (let i = 0; i < 1000; i++) {
      const dt = Math.max(1, rng.normal(200, 5));
      t += dt;
      second.push(dt);
      d.heartbeat(t);
      if (i === 499) {
        // Half way: half old, half new.
        const mixed = [...first.intervals.slice(500), ...second];
        expect(d.samples).toBe(1000);
        expect(d.mean).toBeCloseTo(stats(mixed).mean, 6);
        expect(d.mean).toBeGreaterThan(140);
        expect(d.mean).toBeLessThan(160);
      }
    }
    expect(d.heartbeats).toBe(2001);
    expect(d.samples).toBe(1000);
    const { mean, sd } = stats(second);
    expect(d.mean).toBeCloseTo(mean, 6);
    expect(d.stdDeviation).toBeCloseTo(sd, 6);
    expect(d.mean).toBeGreaterThan(195);
  });

  it('keeps its running sums exact over a long run (re-based once per window)', () => {
    // A seed far from the data (1 ms against ~1000 ms intervals, σ 0.01 ms): summed around the
    // seed, E[x²] − E[x]² would cancel to noise; the re-basing must keep σ accurate.
    const d = new PhiAccrualDetector({ maxSampleSize: 100, firstHeartbeatEstimateMs: 1, minStdDeviationMs: 1e-3, recordIntervalsAfterSuspicion: true });
    const rng = new Random(5);
    const all: number[] = [];
    let t = 1e9; // large absolute times: intervals are differences of big numbers
    d.heartbeat(t);
    for (let i = 0; i < 100_000; i++) {
      const next = t + 1000 + rng.normal(0, 0.01) + (i > 50_000 ? 5000 : 0);
      d.heartbeat(next);
      all.push(next - t); // the interval exactly as the detector computes it
      t = next;
    }
    expect(d.samples).toBe(100);
    const { mean, sd } = stats(all.slice(-100));
    expect(mean).toBeGreaterThan(5999);
    expect(sd).toBeGreaterThan(0.005);
    expect(Math.abs(d.mean - mean)).toBeLessThan(1e-9);
    expect(Math.abs(d.stdDeviation - sd) / sd).toBeLessThan(1e-6);
  });

  it('applies the minimum standard deviation when the history is steadier', () => {
    const regular = (minStdDeviationMs: number) => {
      const d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 100, minStdDeviationMs, maxSampleSize: 50 });
      for (let i = 0; i <= 60; i++) d.heartbeat(i * 100); // the seeds age out: every interval exactly 100
      return d;
    };
    const a = regular(100);
    expect(a.mean).toBeCloseTo(100, 9);
    expect(a.stdDeviation).toBeLessThan(1e-6);
    // σ used = 100: 200 ms of silence is one σ past the mean.
    expect(a.phi(6000 + 200)).toBeCloseTo(naivePhi(1, 0, 1), 9);
    const b = regular(50);
    expect(b.phi(6000 + 200)).toBeCloseTo(naivePhi(2, 0, 1), 9);
    expect(b.phi(6000 + 200)).toBeGreaterThan(a.phi(6000 + 200));
    // Where the history is noisier than the floor, the floor does not matter.
    const noisy = (minStdDeviationMs: number) => {
      const d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 100, minStdDeviationMs });
      return { d, ...feed(d, 200, 100, 30, new Random(3)) };
    };
    const n1 = noisy(1);
    const n2 = noisy(10);
    expect(n1.d.stdDeviation).toBeGreaterThan(20);
    expect(n1.d.phi(n1.t + 150)).toBe(n2.d.phi(n2.t + 150));
  });

  it('shifts the curve by the acceptable pause', () => {
    const make = (acceptableHeartbeatPauseMs: number) => {
      const d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 100, acceptableHeartbeatPauseMs });
      return { d, ...feed(d, 100, 100, 20, new Random(9)) };
    };
    const plain = make(0);
    const paused = make(300);
    expect(paused.d.mean).toBe(plain.d.mean); // the pause is not part of the history
    for (const elapsed of [0, 50, 100, 200, 400, 800]) {
      expect(paused.d.phi(paused.t + elapsed + 300)).toBeCloseTo(plain.d.phi(plain.t + elapsed), 9);
    }
    expect(paused.d.phi(paused.t + 400)).toBeLessThan(plain.d.phi(plain.t + 400));
    expect(paused.d.suspectAt() - paused.t).toBeCloseTo(plain.d.suspectAt() - plain.t + 300, 9);
  });

  it('seeds the history from the first-heartbeat estimate (mean = estimate, σ = estimate/4), and says 0 before any heartbeat', () => {
    const d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 400, minStdDeviationMs: 1 });
    expect(d.phi(1_000_000)).toBe(0);
    expect(d.isAvailable(1_000_000)).toBe(true);
    expect(d.suspectAt()).toBe(Infinity);
    expect(d.samples).toBe(0);
    expect(d.mean).toBeNaN();
    expect(d.lastHeartbeatAt).toBeNull();

    d.heartbeat(5000);
    expect(d.samples).toBe(2);
    expect(d.mean).toBeCloseTo(400, 9);
    expect(d.stdDeviation).toBeCloseTo(100, 9);
    expect(d.lastHeartbeatAt).toBe(5000);
    expect(d.phi(5000)).toBeCloseTo(naivePhi(0, 400, 100), 9);
    expect(d.phi(5000)).toBeLessThan(0.01);
    expect(d.phi(5400)).toBeCloseTo(Math.log10(2), 9);
    // Threshold 8 at 400 + y8·100 ms of silence.
    const at = 5000 + 400 + naiveYAt(8) * 100;
    expect(d.isAvailable(at - 1)).toBe(true);
    expect(d.isAvailable(at + 1)).toBe(false);

    // A larger estimate gives more benefit of the doubt at first.
    const slow = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 2000 });
    slow.heartbeat(5000);
    expect(slow.isAvailable(at + 1)).toBe(true);
  });

  it('does not learn from an interval that ended a suspicion (as Akka), unless told to', () => {
    const run = (recordIntervalsAfterSuspicion: boolean) => {
      const d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 100, recordIntervalsAfterSuspicion });
      const { t } = feed(d, 50, 100, 5, new Random(2));
      const before = { samples: d.samples, mean: d.mean };
      expect(d.isAvailable(t + 10_000)).toBe(false);
      d.heartbeat(t + 10_000); // back after a partition
      return { d, before };
    };
    const akka = run(false);
    expect(akka.d.samples).toBe(akka.before.samples);
    expect(akka.d.mean).toBe(akka.before.mean);
    expect(akka.d.heartbeats).toBe(52);
    const all = run(true);
    expect(all.d.samples).toBe(all.before.samples + 1);
    expect(all.d.mean).toBeGreaterThan(all.before.mean + 100);
  });

  it('stays finite and capped far into the tail, and treats a query before the last heartbeat as no silence', () => {
    const d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: 100, minStdDeviationMs: 1 });
    for (let i = 0; i <= 20; i++) d.heartbeat(i * 100);
    const last = 2000;
    for (const elapsed of [1e3, 1e4, 1e6, 1e12, 1e300]) {
      const phi = d.phi(last + elapsed);
      expect(Number.isFinite(phi)).toBe(true);
      expect(phi).toBeLessThanOrEqual(MAX_PHI);
    }
    expect(d.phi(last + 1e300)).toBe(MAX_PHI);
    // 30 σ past the mean phi ≈ g / ln 10 ≈ 848, g = y(1.5976 + 0.070566 y²), where the naive form is already Infinity.
    const sd = Math.max(d.stdDeviation, 1);
    const elapsed = d.mean + 30 * sd;
    expect(naivePhi(elapsed, d.mean, sd)).toBe(Infinity);
    expect(d.phi(last + elapsed) / ((30 * (1.5976 + 0.070566 * 900)) / Math.LN10)).toBeCloseTo(1, 9);
    expect(d.phi(last - 50)).toBe(d.phi(last));
  });

  it('accrualPhi matches the formula', () => {
    for (const [t, m, s] of [
      [0, 100, 10],
      [100, 100, 10],
      [130, 100, 10],
      [150, 100, 10],
      [1500, 1000, 100],
    ]) {
      expect(accrualPhi(t, m, s)).toBeCloseTo(naivePhi(t, m, s), 9);
    }
    expect(() => accrualPhi(1, 1, 0)).toThrow(RangeError);
    expect(() => accrualPhi(NaN, 1, 1)).toThrow(RangeError);
  });

  it('validates its configuration and its inputs, naming the field', () => {
    const bad: [PhiAccrualInput, string][] = [
      [{ threshold: 0 }, 'threshold'],
      [{ threshold: -1 }, 'threshold'],
      [{ threshold: NaN }, 'threshold'],
      [{ threshold: MAX_PHI }, 'threshold'],
      [{ maxSampleSize: 0 }, 'maxSampleSize'],
      [{ maxSampleSize: 1.5 }, 'maxSampleSize'],
      [{ maxSampleSize: 2_000_000 }, 'maxSampleSize'],
      [{ minStdDeviationMs: 0 }, 'minStdDeviationMs'],
      [{ minStdDeviationMs: Infinity }, 'minStdDeviationMs'],
      [{ acceptableHeartbeatPauseMs: -1 }, 'acceptableHeartbeatPauseMs'],
      [{ firstHeartbeatEstimateMs: 0 }, 'firstHeartbeatEstimateMs'],
      [{ recordIntervalsAfterSuspicion: 'yes' as unknown as boolean }, 'recordIntervalsAfterSuspicion'],
    ];
    for (const [input, field] of bad) {
      expect(() => new PhiAccrualDetector(input), field).toThrow(RangeError);
      expect(() => new PhiAccrualDetector(input), field).toThrow(field);
    }
    expect(new PhiAccrualDetector().config).toEqual(DEFAULT_PHI_ACCRUAL_CONFIG);
    expect(DEFAULT_PHI_ACCRUAL_CONFIG).toMatchObject({ threshold: 8, maxSampleSize: 1000, minStdDeviationMs: 100, acceptableHeartbeatPauseMs: 0, firstHeartbeatEstimateMs: 1000 });
    const d = new PhiAccrualDetector();
    expect(() => d.heartbeat(NaN)).toThrow(/now/);
    d.heartbeat(100);
    expect(() => d.heartbeat(99)).toThrow(RangeError);
    expect(() => d.phi(Infinity)).toThrow(RangeError);
    d.heartbeat(100); // the same instant is allowed (a zero interval)
    expect(d.heartbeats).toBe(2);
  });
});

describe('phi accrual properties (fast-check, fixed seed)', () => {
  const history = fc.record({
    intervals: fc.array(fc.double({ min: 0, max: 5000, noNaN: true }), { maxLength: 60 }),
    threshold: fc.double({ min: 0.01, max: 50, noNaN: true }),
    minStdDeviationMs: fc.double({ min: 1e-3, max: 500, noNaN: true }),
    acceptableHeartbeatPauseMs: fc.double({ min: 0, max: 5000, noNaN: true }),
    firstHeartbeatEstimateMs: fc.double({ min: 1e-3, max: 5000, noNaN: true }),
    maxSampleSize: fc.integer({ min: 1, max: 20 }),
    start: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  });
  const build = (h: { intervals: number[]; start: number } & PhiAccrualInput) => {
    const d = new PhiAccrualDetector(h);
    let t = h.start;
    d.heartbeat(t);
    for (const dt of h.intervals) d.heartbeat((t += dt));
    return { d, last: t };
  };

  it('phi is monotone non-decreasing in now, finite, in [0, MAX_PHI], for any history', () => {
    fc.assert(
      fc.property(history, fc.array(fc.double({ min: -1e4, max: 1e7, noNaN: true }), { minLength: 1, maxLength: 30 }), (h, offsets) => {
        const { d, last } = build(h);
        const times = offsets.map((o) => last + o).concat([last + 1e15, last + 1e300]).sort((a, b) => a - b);
        let prev = -Infinity;
        for (const now of times) {
          const phi = d.phi(now);
          expect(Number.isFinite(phi)).toBe(true);
          expect(phi).toBeGreaterThanOrEqual(0);
          expect(phi).toBeLessThanOrEqual(MAX_PHI);
          expect(phi).toBeGreaterThanOrEqual(prev);
          prev = phi;
        }
      }),
      { seed: 20240605, numRuns: 500 },
    );
  });

  it('suspectAt agrees with isAvailable for any history', () => {
    fc.assert(
      fc.property(history, (h) => {
        const { d, last } = build(h);
        const at = d.suspectAt();
        // Both use the same mean and σ; only the rounding of times and of y* separates them.
        const sigma = Math.max(d.stdDeviation, d.config.minStdDeviationMs);
        const eps = 1e-6 * sigma + 1e-12 * (Math.abs(at) + Math.abs(last));
        expect(d.isAvailable(at - eps) || at - eps < last).toBe(true);
        expect(d.isAvailable(at + eps)).toBe(false);
      }),
      { seed: 7, numRuns: 500 },
    );
  });
});

describe('heartbeat-timeout detector', () => {
  it('test_heartbeat_failure_detection: suspects exactly after the timeout and recovers on a heartbeat', () => {
    const d = new HeartbeatDetector({ timeoutMs: 300 }, 1000);
    // No heartbeat yet: judged from the start (grace = timeout).
    expect(d.isAvailable(1300)).toBe(true);
    expect(d.isAvailable(1300.001)).toBe(false);
    expect(d.suspectAt()).toBe(1300);
    d.heartbeat(1200);
    expect(d.lastHeartbeatAt).toBe(1200);
    expect(d.isAvailable(1500)).toBe(true);
    expect(d.isAvailable(1500.001)).toBe(false);
    expect(d.isAvailable(1501)).toBe(false);
    expect(d.silenceMs(1501)).toBe(301);
    d.heartbeat(1600); // recovers at once
    expect(d.isAvailable(1600)).toBe(true);
    expect(d.isAvailable(1900)).toBe(true);
    expect(d.isAvailable(1901)).toBe(false);
    expect(d.heartbeats).toBe(2);
  });

  it('adds the acceptable pause, and takes a first-heartbeat grace', () => {
    const d = new HeartbeatDetector({ timeoutMs: 300, acceptablePauseMs: 200 }, 0);
    expect(d.config.firstHeartbeatGraceMs).toBe(500);
    expect(d.isAvailable(500)).toBe(true);
    expect(d.isAvailable(501)).toBe(false);
    d.heartbeat(600);
    expect(d.suspectAt()).toBe(1100);
    expect(d.isAvailable(1100)).toBe(true);
    expect(d.isAvailable(1101)).toBe(false);

    const g = new HeartbeatDetector({ timeoutMs: 100, firstHeartbeatGraceMs: 5000 }, 10_000);
    expect(g.isAvailable(15_000)).toBe(true);
    expect(g.isAvailable(15_001)).toBe(false);
    expect(g.silenceMs(12_000)).toBe(2000);
    g.heartbeat(15_500);
    expect(g.isAvailable(15_600)).toBe(true);
    expect(g.isAvailable(15_601)).toBe(false);
  });

  it('validates its configuration and inputs, naming the field', () => {
    const make = (input: object, start = 0) => () => new HeartbeatDetector(input as never, start);
    expect(make({})).toThrow(/timeoutMs/);
    expect(make({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(make({ timeoutMs: -5 })).toThrow(RangeError);
    expect(make({ timeoutMs: 100, acceptablePauseMs: -1 })).toThrow(/acceptablePauseMs/);
    expect(make({ timeoutMs: 100, firstHeartbeatGraceMs: NaN })).toThrow(/firstHeartbeatGraceMs/);
    expect(make({ timeoutMs: 100 }, NaN)).toThrow(/startedAt/);
    expect(make(null as unknown as object)).toThrow(RangeError);
    const d = new HeartbeatDetector({ timeoutMs: 100 }, 0);
    d.heartbeat(50);
    expect(() => d.heartbeat(49)).toThrow(RangeError);
    expect(() => d.heartbeat(Infinity)).toThrow(/now/);
    expect(() => d.isAvailable(NaN)).toThrow(/now/);
  });
});

/**
 * Statistics of the peers benchmark: percentiles, a distribution-free
 * confidence interval for the median (order statistics), and a bootstrap
 * interval for the ratio of two medians (seeded, so a run repeats).
 */

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The median (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** P(X ≤ k) for X ~ Binomial(n, ½), k = 0…n (summed in log space: 2^−n underflows past n = 1074). */
function binomHalfCdfs(n: number): number[] {
  const out: number[] = [];
  let logC = 0; // log(n choose i)
  let acc = 0;
  for (let i = 0; i <= n; i++) {
    if (i > 0) logC += Math.log((n - i + 1) / i);
    acc += Math.exp(logC - n * Math.LN2);
    out.push(Math.min(1, acc));
  }
  return out;
}

/**
 * A confidence interval for the median from order statistics (no
 * assumption on the distribution): [x(j), x(n+1−j)] where j is the largest
 * rank with P(Binomial(n, ½) ≤ j − 1) ≤ (1 − level)/2. Its coverage is at
 * least `level` (exact for continuous data); `coverage` says how much.
 */
export function medianCi(values: readonly number[], level = 0.95): { lo: number; hi: number; coverage: number } {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { lo: Number.NaN, hi: Number.NaN, coverage: 0 };
  const alpha = (1 - level) / 2;
  const cdf = binomHalfCdfs(n);
  let j = 0; // 1-based rank of the lower bound; 0: no interval at this level
  for (let r = 1; r <= Math.floor((n + 1) / 2); r++) {
    if (cdf[r - 1] <= alpha) j = r;
    else break;
  }
  if (j === 0) return { lo: s[0], hi: s[n - 1], coverage: 1 - 2 * cdf[0] };
  return { lo: s[j - 1], hi: s[n - j], coverage: 1 - 2 * cdf[j - 1] };
}

/** A small seeded generator (mulberry32): the bootstrap repeats run to run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A percentile-bootstrap interval for median(a) / median(b) (independent samples). */
export function medianRatioCi(a: readonly number[], b: readonly number[], level = 0.95, rounds = 2_000, seed = 1): { lo: number; hi: number } {
  if (a.length === 0 || b.length === 0) return { lo: Number.NaN, hi: Number.NaN };
  const rand = seeded(seed);
  const resampledMedian = (x: readonly number[]) => {
    const r = new Array<number>(x.length);
    for (let i = 0; i < x.length; i++) r[i] = x[Math.floor(rand() * x.length)];
    return median(r);
  };
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) ratios.push(resampledMedian(a) / resampledMedian(b));
  ratios.sort((x, y) => x - y);
  const alpha = (1 - level) / 2;
  return { lo: ratios[Math.floor(alpha * rounds)], hi: ratios[Math.min(rounds - 1, Math.ceil((1 - alpha) * rounds) - 1)] };
}

/** Summary of a sample: count, min, p50, p90, p99, max, mean. */
export function summary(values: readonly number[]): { n: number; min: number; p50: number; p90: number; p99: number; max: number; mean: number } {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    min: s[0] ?? Number.NaN,
    p50: median(s),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s[s.length - 1] ?? Number.NaN,
    mean: s.length ? s.reduce((x, y) => x + y, 0) / s.length : Number.NaN,
  };
}

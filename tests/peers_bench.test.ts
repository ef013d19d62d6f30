/**
 * The peers benchmark's own arithmetic and parsing (bench/peers/): the
 * order-statistic interval for a median, the bootstrap ratio interval,
 * Prometheus histograms as Grey and etcd expose them, and the role lines
 * each writes to its log.
 */
import { describe, expect, it } from 'vitest';
import { bucketQuantile, describeHistogram, parseHistogram } from '../bench/peers/metrics.js';
import { etcdRoleEvents, greyRoleEvents } from '../bench/peers/roleLog.js';
import { median, medianCi, medianRatioCi, percentile } from '../bench/peers/stats.js';

describe('peers bench: statistics', () => {
  it('median and nearest-rank percentiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
  });

  it('the median CI is the binomial order-statistic interval (n = 300: ranks 133 and 168)', () => {
    const v = Array.from({ length: 300 }, (_, i) => i + 1);
    const ci = medianCi([...v].reverse());
    expect([ci.lo, ci.hi]).toEqual([133, 168]);
    expect(ci.coverage).toBeGreaterThanOrEqual(0.95);
    expect(ci.coverage).toBeLessThan(0.97);
    // Too few samples for 95 %: the whole range, with the coverage it has.
    const tiny = medianCi([5, 1, 3, 2, 4]);
    expect([tiny.lo, tiny.hi]).toEqual([1, 5]);
    expect(tiny.coverage).toBeCloseTo(1 - 2 / 32);
    // Large n does not underflow (2^-n is below the smallest double past n = 1074).
    const big = medianCi(Array.from({ length: 5_000 }, (_, i) => i));
    expect(big.lo).toBeGreaterThan(2_400);
    expect(big.hi).toBeLessThan(2_600);
  });

  it('the bootstrap ratio CI brackets the true ratio and repeats run to run', () => {
    const a = Array.from({ length: 200 }, (_, i) => 100 + (i % 50));
    const b = a.map((x) => x * 2);
    const ci = medianRatioCi(a, b);
    expect(ci.lo).toBeLessThanOrEqual(0.5);
    expect(ci.hi).toBeGreaterThanOrEqual(0.5);
    expect(medianRatioCi(a, b)).toEqual(ci);
  });
});

describe('peers bench: what the systems report', () => {
  const grey = [
    'grey_storage_sync_duration_seconds_bucket{le="0.001",node="n1"} 2',
    'grey_storage_sync_duration_seconds_bucket{le="0.01",node="n1"} 9',
    'grey_storage_sync_duration_seconds_bucket{le="+Inf",node="n1"} 10',
    'grey_storage_sync_duration_seconds_sum{node="n1"} 0.05',
    'grey_storage_sync_duration_seconds_count{node="n1"} 10',
  ].join('\n');

  it('sums a histogram over scrapes and finds the bucket of a quantile', () => {
    const h = parseHistogram([grey, grey.replaceAll('n1', 'n2')], 'grey_storage_sync_duration_seconds');
    expect(h.count).toBe(20);
    expect(h.sum).toBeCloseTo(0.1);
    expect(h.buckets).toEqual([[0.001, 4], [0.01, 18], [Number.POSITIVE_INFINITY, 20]]);
    expect(bucketQuantile(h, 0.5)).toBe(0.01);
    expect(bucketQuantile(h, 0.99)).toBe(Number.POSITIVE_INFINITY);
    expect(describeHistogram(h, 'syncs')).toBe('syncs: mean 5 ms, p50 ≤ 10 ms, p99 ≤ ∞ over 20');
    expect(describeHistogram(parseHistogram([], 'x'), 'syncs')).toBe('no syncs recorded');
  });

  it("reads role changes from grey node's and etcd's log lines", () => {
    expect(
      greyRoleEvents([
        '{"time":"2026-01-01T00:00:00.100Z","level":"info","msg":"role","node":"n1","role":"precandidate","term":2,"leader":null}',
        '{"time":"2026-01-01T00:00:00.150Z","level":"info","msg":"started","node":"n1"}',
        'not json',
        '{"time":"2026-01-01T00:00:00.200Z","level":"info","msg":"role","node":"n1","role":"leader","term":3,"leader":"n1"}',
      ]),
    ).toEqual([
      { at: Date.parse('2026-01-01T00:00:00.100Z'), role: 'precandidate' },
      { at: Date.parse('2026-01-01T00:00:00.200Z'), role: 'leader' },
    ]);
    expect(
      etcdRoleEvents([
        '{"level":"info","ts":"2026-01-01T00:00:00.120Z","caller":"raft/raft.go:923","msg":"bdae9bbc11dd390d became pre-candidate at term 2"}',
        '{"level":"info","ts":"2026-01-01T00:00:00.125Z","caller":"raft/node.go:327","msg":"raft.node: bdae9bbc11dd390d elected leader bdae9bbc11dd390d at term 3"}',
        '{"level":"info","ts":"2026-01-01T00:00:00.124Z","caller":"raft/raft.go:771","msg":"bdae9bbc11dd390d became leader at term 3"}',
      ]),
    ).toEqual([
      { at: Date.parse('2026-01-01T00:00:00.120Z'), role: 'precandidate' },
      { at: Date.parse('2026-01-01T00:00:00.124Z'), role: 'leader' },
    ]);
  });
});

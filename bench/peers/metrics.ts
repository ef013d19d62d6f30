/**
 * Histograms from Prometheus exposition text, as each system reports its
 * own disk syncs: Grey's `grey_storage_sync_duration_seconds` (a sync's
 * LMDB commit until it is flushed) and etcd's
 * `etcd_disk_wal_fsync_duration_seconds` (the WAL's fsync).
 */

export interface Histogram {
  count: number;
  sum: number;
  /** Cumulative counts by upper bound (seconds), ascending. */
  buckets: Array<[number, number]>;
}

/** Sums histogram `name` over every label set in `text` (several nodes, several scrapes). */
export function parseHistogram(texts: readonly string[], name: string): Histogram {
  const byBound = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (line.startsWith(`${name}_bucket`)) {
        const le = /le="([^"]+)"/.exec(line)?.[1];
        if (le === undefined) continue;
        const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
        byBound.set(bound, (byBound.get(bound) ?? 0) + value);
      } else if (line.startsWith(`${name}_count`)) count += value;
      else if (line.startsWith(`${name}_sum`)) sum += value;
    }
  }
  return { count, sum, buckets: [...byBound].sort((a, b) => a[0] - b[0]) };
}

/** The buckets of several histograms added up (same bounds). */
export function mergeBuckets(hs: readonly Histogram[]): Array<[number, number]> {
  const byBound = new Map<number, number>();
  for (const h of hs) for (const [bound, n] of h.buckets) byBound.set(bound, (byBound.get(bound) ?? 0) + n);
  return [...byBound].sort((a, b) => a[0] - b[0]);
}

/** The upper bound of the bucket holding quantile `q` (seconds), or NaN. */
export function bucketQuantile(h: Histogram, q: number): number {
  const total = h.buckets[h.buckets.length - 1]?.[1] ?? 0;
  if (total === 0) return Number.NaN;
  for (const [bound, n] of h.buckets) if (n >= q * total) return bound;
  return Number.NaN;
}

/** "mean 4.1 ms, p50 ≤ 2.5 ms, p99 ≤ 25 ms over 1,234 syncs" */
export function describeHistogram(h: Histogram, what: string): string {
  if (h.count === 0) return `no ${what} recorded`;
  const ms = (s: number) => (Number.isFinite(s) ? `${+(s * 1000).toPrecision(3)} ms` : '∞');
  return `${what}: mean ${ms(h.sum / h.count)}, p50 ≤ ${ms(bucketQuantile(h, 0.5))}, p99 ≤ ${ms(bucketQuantile(h, 0.99))} over ${h.count.toLocaleString('en-US')}`;
}

/** The exposition text at `url`, or '' when it does not answer. */
export async function scrape(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return await res.text();
  } catch {
    return '';
  }
}

/**
 * The answers a client session keeps, by request number, until the client
 * says it has them: two parallel arrays sorted by request number. A client
 * usually has one or a few requests in flight, so each apply adds one
 * answer and forgets one; a Map did that with a rehash per delete (its
 * table shrinks when it empties), arrays with a shift in place and no
 * allocation.
 */
export class SessionAnswers<T> {
  private readonly seqs: number[] = [];
  private readonly values: T[] = [];

  /** From an entry list in any order (a snapshot's). */
  static from<T>(entries: Iterable<readonly [number, T]>): SessionAnswers<T> {
    const a = new SessionAnswers<T>();
    for (const [seq, v] of entries) a.set(seq, v);
    return a;
  }

  get size(): number {
    return this.seqs.length;
  }

  get(seq: number): T | undefined {
    const i = this.find(seq);
    return i >= 0 ? this.values[i] : undefined;
  }

  /** Records (or replaces) the answer to `seq`. */
  set(seq: number, value: T): void {
    const n = this.seqs.length;
    if (n === 0 || seq > this.seqs[n - 1]) {
      this.seqs.push(seq);
      this.values.push(value);
      return;
    }
    const i = this.find(seq);
    if (i >= 0) {
      this.values[i] = value;
      return;
    }
    const at = this.lowerBound(seq);
    this.seqs.splice(at, 0, seq);
    this.values.splice(at, 0, value);
  }

  /** Forgets every answer below `seq`. */
  forgetBelow(seq: number): void {
    this.dropFirst(this.lowerBound(seq));
  }

  /** Forgets the `k` oldest answers. */
  dropFirst(k: number): void {
    if (k <= 0) return;
    const n = this.seqs.length;
    if (k >= n) {
      // Popped, not `length = 0`: that frees the backing store, and the
      // next answer (one per apply) allocates it again. 10× slower measured.
      for (let i = 0; i < n; i++) {
        this.seqs.pop();
        this.values.pop();
      }
      return;
    }
    this.seqs.copyWithin(0, k);
    this.values.copyWithin(0, k);
    this.seqs.length = n - k;
    this.values.length = n - k;
  }

  /** The highest request number answered, or undefined. */
  get last(): number | undefined {
    return this.seqs.length > 0 ? this.seqs[this.seqs.length - 1] : undefined;
  }

  /** Entries in request order. */
  entries(): Array<[number, T]> {
    return this.seqs.map((s, i) => [s, this.values[i]]);
  }

  private find(seq: number): number {
    const i = this.lowerBound(seq);
    return i < this.seqs.length && this.seqs[i] === seq ? i : -1;
  }

  /** The first position whose request number is ≥ `seq`. */
  private lowerBound(seq: number): number {
    const s = this.seqs;
    // Most lookups hit the first or last answer: check the ends before searching.
    if (s.length === 0 || seq <= s[0]) return 0;
    if (seq > s[s.length - 1]) return s.length;
    let lo = 1;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid] < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * Bounded top-k selection: a binary min-heap of the k best (score desc, id asc) seen so far, so a
 * query touching n documents costs O(n log k) rather than sorting all n.
 */

export interface Ranked {
  readonly id: string;
  readonly score: number;
}

/** True when `a` ranks below `b`: lower score, or equal score and larger id (ties go to the smaller id). */
function worse(a: Ranked, b: Ranked): boolean {
  return a.score < b.score || (a.score === b.score && a.id > b.id);
}

export class TopK<T extends Ranked> {
  private readonly heap: T[] = [];

  constructor(private readonly k: number) {}

  /** Offers a candidate; kept only if it beats the current k-th best. */
  push(item: T): void {
    const h = this.heap;
    if (h.length < this.k) {
      h.push(item);
      this.up(h.length - 1);
    } else if (this.k > 0 && h[0] !== undefined && worse(h[0], item)) {
      h[0] = item;
      this.down(0);
    }
  }

  /** Whether a candidate with this score could enter (lets callers skip building losers). */
  mightTake(score: number): boolean {
    const top = this.heap[0];
    return this.heap.length < this.k || (top !== undefined && score >= top.score);
  }

  /** The kept items, best first. */
  sorted(): T[] {
    return [...this.heap].sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const hi = h[i];
      const hp = h[p];
      if (hi === undefined || hp === undefined || !worse(hi, hp)) break;
      h[i] = hp;
      h[p] = hi;
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      const hm0 = h[m];
      const hl = h[l];
      if (hl !== undefined && hm0 !== undefined && worse(hl, hm0)) m = l;
      const hm1 = h[m];
      const hr = h[r];
      if (hr !== undefined && hm1 !== undefined && worse(hr, hm1)) m = r;
      if (m === i) return;
      const a = h[i];
      const b = h[m];
      if (a === undefined || b === undefined) return;
      h[i] = b;
      h[m] = a;
      i = m;
    }
  }
}

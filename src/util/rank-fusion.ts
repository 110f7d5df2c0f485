/**
 * Reciprocal rank fusion (Cormack et al. 2009), shared by every index location's hybrid retriever
 * (search/searcher.ts over a folder index, pg/pg-index.ts over PostgreSQL). It lives this low so that
 * both can import it without pg/ reaching up into search/.
 */

/** What fusion needs of a hit: an id to merge by and a score to replace. */
export interface RankedHit {
  id: string;
  score: number;
}

/**
 * Reciprocal rank fusion: each list contributes weight / (rrfK + rank), rank from 1; documents are
 * merged by id (the other fields come from the first list that holds the document); ties by id.
 * Scores of the input lists are not comparable (MaxSim vs BM25), which is why ranks are fused rather
 * than scores.
 */
export function fuse<H extends RankedHit>(lists: readonly H[][], weights: readonly number[], rrfK: number, k: number): H[] {
  const merged = new Map<string, H>();
  lists.forEach((list, l) =>
    list.forEach((h, rank) => {
      const add = (weights[l] ?? 1) / (rrfK + rank + 1);
      const prev = merged.get(h.id);
      merged.set(h.id, prev ? { ...prev, score: prev.score + add } : { ...h, score: add });
    }),
  );
  return [...merged.values()].sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).slice(0, k);
}

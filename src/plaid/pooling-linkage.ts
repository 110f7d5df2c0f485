/**
 * SciPy's `linkage(condensed, method="ward")` for token pooling (see pooling.ts): the
 * nearest-neighbour-chain algorithm (`_hierarchy.nn_chain`) with Ward's Lance-Williams update applied
 * to the given (non-Euclidean) distances, then the stable sort of the merges by distance and the
 * union-find relabelling of `_hierarchy.label`.
 *
 * Same merges, same distances, same ties as SciPy's loop over a condensed matrix, on a square matrix
 * whose rows are contiguous: the scan for a chain element's nearest neighbour visits the live clusters
 * in increasing index, starts from the previous chain element's distance and replaces it only on a
 * strictly smaller one (SciPy's tie rule), and each update is SciPy's `_ward` expression, operation
 * for operation. What differs is only what is visited: SciPy loops over every slot and skips the dead
 * ones (size 0) and x itself; here a sorted list of the live slots is kept, and the diagonal is
 * +Infinity, which `dist < currentMin` never picks (SciPy skips i == x; both leave y and currentMin
 * unchanged, for any input, NaN included).
 */
import { ColtsError } from "../errors.js";

/**
 * SciPy's `_ward` Lance-Williams update, same operations in the same order (float64); `t` is
 * 1.0 / (sizeX + sizeY + sizeI), looked up in a table of the same quotients (the sizes are integers).
 */
function wardUpdate(dXi: number, dYi: number, dXy: number, sizeX: number, sizeY: number, sizeI: number, t: number): number {
  return Math.sqrt((sizeI + sizeX) * t * dXi * dXi + (sizeI + sizeY) * t * dYi * dYi - sizeI * t * dXy * dXy);
}

/** The merges in the order the chain finds them: clusters x < y (slot ids) at distance dist. */
interface Merges {
  x: Int32Array;
  y: Int32Array;
  dist: Float64Array;
}

/**
 * SciPy's `nn_chain` on a square matrix. d: [stride, stride] row-major, d[i * stride + j] = distance
 * of slots i != j < n (both triangles), diagonal +Infinity; overwritten (the merged cluster y keeps
 * its slot, x's slot dies). Returns the n - 1 merges, unsorted.
 */
function nnChain(d: Float64Array, n: number, stride: number): Merges {
  const size = new Int32Array(n).fill(1);
  const live = new Int32Array(n); // live slots, increasing
  for (let i = 0; i < n; i++) live[i] = i;
  let liveCount = n;
  const chain = new Int32Array(n);
  let chainLength = 0;
  const merges: Merges = { x: new Int32Array(n - 1), y: new Int32Array(n - 1), dist: new Float64Array(n - 1) };
  const reciprocal = new Float64Array(n + 1); // reciprocal[s] = 1.0 / s: a load instead of a division per update
  for (let s = 1; s <= n; s++) reciprocal[s] = 1.0 / s;

  for (let k = 0; k < n - 1; k++) {
    if (chainLength === 0) {
      chainLength = 1;
      chain[0] = live[0] as number; // SciPy: the first slot with size > 0
    }
    let x = 0;
    let y = 0;
    let currentMin = Infinity;
    // Follow nearest neighbours until two clusters are each other's nearest.
    for (;;) {
      x = chain[chainLength - 1] as number;
      const row = x * stride;
      // Prefer the previous chain element on ties, to avoid cycles (as SciPy).
      if (chainLength > 1) {
        y = chain[chainLength - 2] as number;
        currentMin = d[row + y] as number;
      } else {
        currentMin = Infinity;
      }
      for (let a = 0; a < liveCount; a++) {
        const i = live[a] as number;
        const dist = d[row + i] as number;
        if (dist < currentMin) {
          currentMin = dist;
          y = i;
        }
      }
      if (chainLength > 1 && y === chain[chainLength - 2]) break;
      chain[chainLength] = y;
      chainLength++;
    }
    chainLength -= 2;
    if (x > y) {
      const swap = x;
      x = y;
      y = swap;
    }
    const nx = size[x] as number;
    const ny = size[y] as number;
    merges.x[k] = x;
    merges.y[k] = y;
    merges.dist[k] = currentMin;
    size[x] = 0; // x is dropped
    size[y] = nx + ny; // y becomes the merged cluster
    // d[i, y] = d[y, i] = ward(d[i, x], d[i, y], d[x, y]) for every other live cluster i; x leaves
    // the live list (its row and column are never read again).
    const rx = x * stride;
    const ry = y * stride;
    let kept = 0;
    for (let a = 0; a < liveCount; a++) {
      const i = live[a] as number;
      if (i === x) continue;
      live[kept++] = i;
      if (i === y) continue;
      const ni = size[i] as number;
      const v = wardUpdate(d[rx + i] as number, d[ry + i] as number, currentMin, nx, ny, ni, reciprocal[nx + ny + ni] as number);
      d[ry + i] = v;
      d[i * stride + y] = v;
    }
    liveCount = kept;
  }
  return merges;
}

/**
 * `np.argsort(dist, kind="mergesort")` then SciPy's `label`: the merges sorted by distance (stable,
 * NaN last), each merge given the id n + row by union-find. Returns Z: [n - 1, 4] row-major.
 */
function sortAndLabel(merges: Merges, n: number): Float64Array {
  const zd = merges.dist;
  const order = Array.from({ length: n - 1 }, (_, i) => i);
  order.sort((a, b) => {
    const da = zd[a] as number;
    const db = zd[b] as number;
    if (Number.isNaN(da) || Number.isNaN(db)) return Number.isNaN(da) ? (Number.isNaN(db) ? a - b : 1) : -1;
    return da < db ? -1 : da > db ? 1 : a - b;
  });

  const parent = new Int32Array(2 * n - 1);
  for (let i = 0; i < parent.length; i++) parent[i] = i;
  const ufSize = new Int32Array(2 * n - 1).fill(1);
  const find = (v: number): number => {
    let root = v;
    while (parent[root] !== root) root = parent[root] as number;
    let p = v;
    while (parent[p] !== root) {
      const next = parent[p] as number;
      parent[p] = root;
      p = next;
    }
    return root;
  };
  const Z = new Float64Array((n - 1) * 4);
  let nextLabel = n;
  for (let r = 0; r < n - 1; r++) {
    const src = order[r] as number;
    const xr = find(merges.x[src] as number);
    const yr = find(merges.y[src] as number);
    Z[r * 4] = Math.min(xr, yr);
    Z[r * 4 + 1] = Math.max(xr, yr);
    Z[r * 4 + 2] = zd[src] as number;
    parent[xr] = nextLabel;
    parent[yr] = nextLabel;
    const s = (ufSize[xr] as number) + (ufSize[yr] as number);
    ufSize[nextLabel] = s;
    Z[r * 4 + 3] = s;
    nextLabel++;
  }
  return Z;
}

/**
 * Ward linkage of n >= 2 slots from a square distance matrix d: [stride, stride] (both triangles,
 * diagonal +Infinity; overwritten) -> Z: [n - 1, 4] row-major (left id, right id, distance, size),
 * ids >= n naming earlier merges (n + row), exactly as SciPy's `linkage(..., method="ward")`.
 */
export function wardLinkageSquare(d: Float64Array, n: number, stride: number): Float64Array {
  return sortAndLabel(nnChain(d, n, stride), n);
}

/**
 * `scipy.cluster.hierarchy.linkage(condensed, method="ward")`.
 * condensed: [n * (n - 1) / 2] (SciPy's order, see `cosineDistanceCondensed`); returns Z: [n - 1, 4]
 * row-major (left id, right id, distance, size), ids >= n naming earlier merges (n + row).
 */
export function wardLinkage(condensed: Float64Array, n: number): Float64Array {
  if (!Number.isInteger(n) || n < 2 || condensed.length !== (n * (n - 1)) / 2) {
    throw new ColtsError("INPUT_INVALID", `wardLinkage: ${condensed.length} distances do not form a condensed matrix of n = ${n} >= 2 observations`);
  }
  const d = new Float64Array(n * n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    d[i * n + i] = Infinity;
    for (let j = i + 1; j < n; j++) {
      const v = condensed[k++] as number;
      d[i * n + j] = v;
      d[j * n + i] = v;
    }
  }
  return wardLinkageSquare(d, n, n);
}

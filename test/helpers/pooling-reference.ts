/**
 * The slow reference for token pooling: src/plaid/pooling.ts as it was before its kernels were made
 * fast (one float64 dot product per pair, SciPy's nearest-neighbour chain on the condensed matrix,
 * scanning every cluster slot). Kept verbatim, renamed with a `Reference` suffix, so that property
 * tests and bench/pooling-speed.ts can check the fast code against it: same labels, same linkage,
 * same pooled vectors, bit for bit. Do not optimise this file.
 */
import { ColtsError } from "../../src/errors.js";
import { checkShape } from "../../src/plaid/assign.js";
import type { PoolOptions, PooledDocument } from "../../src/plaid/pooling.js";

/**
 * Pools one document's token vectors.
 * vectors: [n, dim] row-major (unit rows, as the encoder emits them) -> see `PooledDocument`.
 */
export function poolTokensReference(vectors: Float32Array, n: number, dim: number, options: PoolOptions = {}): PooledDocument {
  checkShape("vectors", vectors, n, dim);
  const poolFactor = options.poolFactor ?? 1;
  const protectedTokens = options.protectedTokens ?? 1;
  if (!(Number.isFinite(poolFactor) && poolFactor >= 1)) throw new ColtsError("INPUT_INVALID", `poolFactor must be a number >= 1, got ${poolFactor}`);
  if (!Number.isInteger(protectedTokens) || protectedTokens < 0) throw new ColtsError("INPUT_INVALID", `protectedTokens must be an integer >= 0, got ${protectedTokens}`);

  const kept = Math.min(protectedTokens, n);
  const m = n - kept; // rows to pool
  const clusters = Math.max(Math.floor(m / poolFactor), 1);
  if (clusters >= m) {
    const labels = new Int32Array(m);
    for (let i = 0; i < m; i++) labels[i] = i + 1;
    return { vectors: vectors.slice(), count: n, labels };
  }

  const rows = vectors.subarray(kept * dim); // [m, dim]
  const labels = wardClusterLabelsReference(rows, m, dim, clusters);
  let numLabels = 0;
  for (let i = 0; i < m; i++) numLabels = Math.max(numLabels, labels[i] as number);

  const sums = new Float64Array(numLabels * dim);
  const counts = new Int32Array(numLabels);
  for (let i = 0; i < m; i++) {
    const c = (labels[i] as number) - 1;
    counts[c] = (counts[c] as number) + 1;
    for (let t = 0; t < dim; t++) sums[c * dim + t] = (sums[c * dim + t] as number) + (rows[i * dim + t] as number);
  }
  // fcluster labels are consecutive, so every label 1..numLabels has members; PyLate skips empty ones anyway.
  let count = kept;
  for (let c = 0; c < numLabels; c++) if ((counts[c] as number) > 0) count++;
  const out = new Float32Array(count * dim);
  out.set(vectors.subarray(0, kept * dim));
  let r = kept;
  for (let c = 0; c < numLabels; c++) {
    const cnt = counts[c] as number;
    if (cnt === 0) continue;
    for (let t = 0; t < dim; t++) out[r * dim + t] = (sums[c * dim + t] as number) / cnt;
    r++;
  }
  return { vectors: out, count, labels };
}

/**
 * PyLate's clustering of one document's (unprotected) rows: Ward linkage on 1 - cosine, cut into at
 * most `clusters` flat clusters. x: [n, dim] row-major -> labels: [n], 1-based, consecutive.
 */
export function wardClusterLabelsReference(x: Float32Array, n: number, dim: number, clusters: number): Int32Array {
  checkShape("x", x, n, dim);
  if (n === 0) return new Int32Array(0);
  if (n === 1) return Int32Array.of(1);
  const condensed = cosineDistanceCondensedReference(x, n, dim);
  for (const d of condensed) if (!Number.isFinite(d)) throw new ColtsError("INPUT_INVALID", "token pooling: vectors contain non-finite values");
  const z = wardLinkageReference(condensed, n);
  return fclusterMaxclustReference(z, n, clusters);
}

/**
 * Condensed 1 - x_i·x_j for i < j, in SciPy's order (row-major upper triangle): entry
 * n*i - i*(i+1)/2 + (j - i - 1). Each dot product is rounded to float32 and 1 - dot is rounded to
 * float32 again, as PyLate's float32 torch.mm and `1 - cos_sim` produce them (SciPy then promotes to
 * float64). One deliberate difference: a negative value (the dot product of (near-)identical unit rows
 * rounding above 1) is clamped to 0. PyLate passes it on and SciPy then refuses the linkage ("Z
 * contains negative distances"), so this only changes inputs on which PyLate fails; colts pools such
 * duplicates together instead. x: [n, dim] row-major -> [n * (n - 1) / 2].
 */
export function cosineDistanceCondensedReference(x: Float32Array, n: number, dim: number): Float64Array {
  checkShape("x", x, n, dim);
  const y = Float64Array.from(x); // float64 loads are cheaper than float32 ones in V8
  const out = new Float64Array((n * (n - 1)) / 2);
  const put = (i: number, j: number, dot: number): void => {
    out[n * i - (i * (i + 1)) / 2 + (j - i - 1)] = Math.max(0, Math.fround(1 - Math.fround(dot)));
  };
  // Two rows i, i+1 against four rows j..j+3 at a time: each loaded value is used 4 or 2 times.
  for (let i = 0; i + 1 < n; i += 2) {
    const a0 = i * dim;
    const a1 = a0 + dim;
    let d01 = 0;
    for (let t = 0; t < dim; t++) d01 += (y[a0 + t] as number) * (y[a1 + t] as number);
    put(i, i + 1, d01);
    let j = i + 2;
    for (; j + 3 < n; j += 4) {
      const b0 = j * dim;
      const b1 = b0 + dim;
      const b2 = b1 + dim;
      const b3 = b2 + dim;
      let p0 = 0;
      let p1 = 0;
      let p2 = 0;
      let p3 = 0;
      let q0 = 0;
      let q1 = 0;
      let q2 = 0;
      let q3 = 0;
      for (let t = 0; t < dim; t++) {
        const u = y[a0 + t] as number;
        const w = y[a1 + t] as number;
        const c0 = y[b0 + t] as number;
        const c1 = y[b1 + t] as number;
        const c2 = y[b2 + t] as number;
        const c3 = y[b3 + t] as number;
        p0 += u * c0;
        p1 += u * c1;
        p2 += u * c2;
        p3 += u * c3;
        q0 += w * c0;
        q1 += w * c1;
        q2 += w * c2;
        q3 += w * c3;
      }
      put(i, j, p0);
      put(i, j + 1, p1);
      put(i, j + 2, p2);
      put(i, j + 3, p3);
      put(i + 1, j, q0);
      put(i + 1, j + 1, q1);
      put(i + 1, j + 2, q2);
      put(i + 1, j + 3, q3);
    }
    for (; j < n; j++) {
      const b = j * dim;
      let p = 0;
      let q = 0;
      for (let t = 0; t < dim; t++) {
        p += (y[a0 + t] as number) * (y[b + t] as number);
        q += (y[a1 + t] as number) * (y[b + t] as number);
      }
      put(i, j, p);
      put(i + 1, j, q);
    }
  }
  return out;
}

/** SciPy's `_ward` Lance-Williams update, same operations in the same order (float64). */
function wardUpdate(dXi: number, dYi: number, dXy: number, sizeX: number, sizeY: number, sizeI: number): number {
  const t = 1.0 / (sizeX + sizeY + sizeI);
  return Math.sqrt((sizeI + sizeX) * t * dXi * dXi + (sizeI + sizeY) * t * dYi * dYi - sizeI * t * dXy * dXy);
}

/**
 * `scipy.cluster.hierarchy.linkage(condensed, method="ward")` (SciPy's `nn_chain`, then the stable
 * sort by distance and the union-find relabelling of `label`).
 * condensed: [n * (n - 1) / 2] (see `cosineDistanceCondensed`); returns Z: [n - 1, 4] row-major
 * (left id, right id, distance, size), ids >= n naming earlier merges (n + row).
 */
export function wardLinkageReference(condensed: Float64Array, n: number): Float64Array {
  if (!Number.isInteger(n) || n < 2 || condensed.length !== (n * (n - 1)) / 2) {
    throw new ColtsError("INPUT_INVALID", `wardLinkage: ${condensed.length} distances do not form a condensed matrix of n = ${n} >= 2 observations`);
  }
  const D = condensed.slice();
  // rowStart[i] + j = condensed index of (i, j) for i < j.
  const rowStart = new Float64Array(n);
  for (let i = 0; i < n; i++) rowStart[i] = n * i - (i * (i + 1)) / 2 - i - 1;
  const size = new Int32Array(n).fill(1);
  const chain = new Int32Array(n);
  let chainLength = 0;
  const zx = new Int32Array(n - 1);
  const zy = new Int32Array(n - 1);
  const zd = new Float64Array(n - 1);

  for (let k = 0; k < n - 1; k++) {
    if (chainLength === 0) {
      chainLength = 1;
      for (let i = 0; i < n; i++) {
        if ((size[i] as number) > 0) {
          chain[0] = i;
          break;
        }
      }
    }
    let x = 0;
    let y = 0;
    let currentMin = Infinity;
    // Follow nearest neighbours until two clusters are each other's nearest.
    for (;;) {
      x = chain[chainLength - 1] as number;
      // Prefer the previous chain element on ties, to avoid cycles (as SciPy).
      if (chainLength > 1) {
        y = chain[chainLength - 2] as number;
        currentMin = D[x < y ? (rowStart[x] as number) + y : (rowStart[y] as number) + x] as number;
      } else {
        currentMin = Infinity;
      }
      // for i in 0..n-1 (i != x, alive): dist = D[x, i]; strict < keeps the first minimum (SciPy's order)
      for (let i = 0; i < x; i++) {
        if (size[i] === 0) continue;
        const dist = D[(rowStart[i] as number) + x] as number;
        if (dist < currentMin) {
          currentMin = dist;
          y = i;
        }
      }
      const rx = rowStart[x] as number;
      for (let i = x + 1; i < n; i++) {
        if (size[i] === 0) continue;
        const dist = D[rx + i] as number;
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
    if (x > y) [x, y] = [y, x];
    const nx = size[x] as number;
    const ny = size[y] as number;
    zx[k] = x;
    zy[k] = y;
    zd[k] = currentMin;
    size[x] = 0; // x is dropped
    size[y] = nx + ny; // y becomes the merged cluster
    // D[i, y] = ward(D[i, x], D[i, y], D[x, y]) for every other live cluster i (x < y).
    const rx = rowStart[x] as number;
    const ry = rowStart[y] as number;
    for (let i = 0; i < n; i++) {
      const ni = size[i] as number;
      if (ni === 0 || i === y) continue;
      const ix = i < x ? (rowStart[i] as number) + x : rx + i;
      const iy = i < y ? (rowStart[i] as number) + y : ry + i;
      D[iy] = wardUpdate(D[ix] as number, D[iy] as number, currentMin, nx, ny, ni);
    }
  }

  // np.argsort(Z[:, 2], kind="mergesort"): stable, NaN last.
  const order = Array.from({ length: n - 1 }, (_, i) => i);
  order.sort((a, b) => {
    const da = zd[a] as number;
    const db = zd[b] as number;
    if (Number.isNaN(da) || Number.isNaN(db)) return Number.isNaN(da) ? (Number.isNaN(db) ? a - b : 1) : -1;
    return da < db ? -1 : da > db ? 1 : a - b;
  });

  // SciPy's `label`: union-find over the sorted merges gives each merge the id n + row.
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
    const xr = find(zx[src] as number);
    const yr = find(zy[src] as number);
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
 * `scipy.cluster.hierarchy.fcluster(Z, t=maxClusters, criterion="maxclust")`.
 * Z: [n - 1, 4] row-major linkage; returns labels: [n], 1-based, numbered in depth-first order
 * (left child first), at most maxClusters distinct.
 */
export function fclusterMaxclustReference(Z: Float64Array, n: number, maxClusters: number): Int32Array {
  if (!Number.isInteger(n) || n < 2 || Z.length !== (n - 1) * 4) throw new ColtsError("INPUT_INVALID", `fclusterMaxclust: Z must be [${n - 1}, 4]`);
  if (!Number.isInteger(maxClusters) || maxClusters < 1) throw new ColtsError("INPUT_INVALID", `fclusterMaxclust: maxClusters must be an integer >= 1, got ${maxClusters}`);
  const T = new Int32Array(n);
  if (maxClusters >= n) {
    for (let i = 0; i < n; i++) T[i] = i + 1;
    return T;
  }
  const left = (r: number): number => Z[r * 4] as number;
  const right = (r: number): number => Z[r * 4 + 1] as number;

  // get_max_dist_for_each_cluster: MC[r] = max merge distance inside node n + r (post-order).
  const MC = new Float64Array(n - 1);
  const stack = new Int32Array(n);
  const visited = new Uint8Array(2 * n - 1);
  {
    let k = 0;
    stack[0] = 2 * n - 2;
    while (k >= 0) {
      const root = (stack[k] as number) - n;
      const lc = left(root);
      const rc = right(root);
      if (lc >= n && visited[lc] === 0) {
        visited[lc] = 1;
        stack[++k] = lc;
        continue;
      }
      if (rc >= n && visited[rc] === 0) {
        visited[rc] = 1;
        stack[++k] = rc;
        continue;
      }
      let maxDist = Z[root * 4 + 2] as number;
      if (lc >= n && (MC[lc - n] as number) > maxDist) maxDist = MC[lc - n] as number;
      if (rc >= n && (MC[rc - n] as number) > maxDist) maxDist = MC[rc - n] as number;
      MC[root] = maxDist;
      k--;
    }
  }

  // cluster_maxclust_monocrit: binary search for the smallest MC[i] giving <= maxClusters clusters.
  let lower = -1;
  let upper = n - 1;
  while (upper - lower > 1) {
    const i = (lower + upper) >> 1;
    const thresh = MC[i] as number;
    visited.fill(0);
    let nc = 0;
    let k = 0;
    stack[0] = 2 * n - 2;
    while (k >= 0) {
      const root = (stack[k] as number) - n;
      const lc = left(root);
      const rc = right(root);
      if ((MC[root] as number) <= thresh) {
        nc++;
        if (nc > maxClusters) break;
        k--;
        visited[lc] = 1;
        visited[rc] = 1;
        continue;
      }
      if (visited[lc] === 0) {
        visited[lc] = 1;
        if (lc >= n) {
          stack[++k] = lc;
          continue;
        }
        nc++;
        if (nc > maxClusters) break;
      }
      if (visited[rc] === 0) {
        visited[rc] = 1;
        if (rc >= n) {
          stack[++k] = rc;
          continue;
        }
        nc++;
        if (nc > maxClusters) break;
      }
      k--;
    }
    if (nc > maxClusters) lower = i;
    else upper = i;
  }
  clusterMonocrit(Z, MC, T, MC[upper] as number, n, stack, visited);
  return T;
}

/** SciPy's `cluster_monocrit`: label leaves depth-first; a node with MC <= cutoff starts a cluster. */
function clusterMonocrit(Z: Float64Array, MC: Float64Array, T: Int32Array, cutoff: number, n: number, stack: Int32Array, visited: Uint8Array): void {
  visited.fill(0);
  let nCluster = 0;
  let leader = -1;
  let k = 0;
  stack[0] = 2 * n - 2;
  while (k >= 0) {
    const root = (stack[k] as number) - n;
    const lc = Z[root * 4] as number;
    const rc = Z[root * 4 + 1] as number;
    if (leader === -1 && (MC[root] as number) <= cutoff) {
      leader = root;
      nCluster++;
    }
    if (lc >= n && visited[lc] === 0) {
      visited[lc] = 1;
      stack[++k] = lc;
      continue;
    }
    if (rc >= n && visited[rc] === 0) {
      visited[rc] = 1;
      stack[++k] = rc;
      continue;
    }
    if (lc < n) {
      if (leader === -1) nCluster++;
      T[lc] = nCluster;
    }
    if (rc < n) {
      if (leader === -1) nCluster++;
      T[rc] = nCluster;
    }
    if (leader === root) leader = -1;
    k--;
  }
}

/**
 * SciPy's `fcluster(Z, t, criterion="maxclust")` for token pooling (see pooling.ts): the flat
 * clusters of a Ward linkage, step by step as SciPy's `_hierarchy.pyx` computes them.
 */
import { ColtsError } from "../errors.js";

/**
 * `scipy.cluster.hierarchy.fcluster(Z, t=maxClusters, criterion="maxclust")`.
 * Z: [n - 1, 4] row-major linkage; returns labels: [n], 1-based, numbered in depth-first order
 * (left child first), at most maxClusters distinct.
 */
export function fclusterMaxclust(Z: Float64Array, n: number, maxClusters: number): Int32Array {
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

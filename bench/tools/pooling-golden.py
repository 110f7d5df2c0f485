#!/usr/bin/env python3
"""Golden fixtures for colts' token pooling (src/plaid/pooling.ts), made with SciPy.

Reproduces PyLate's `ColBERT.pool_embeddings_hierarchical` (pylate/models/colbert.py) with numpy in
place of torch (float32 matmul, float32 `1 - cos`, condensed upper triangle (negative values clamped
to 0, where PyLate would fail), SciPy Ward linkage,
fcluster maxclust, float32 cluster means in label order, protected rows first) on random unit
vectors drawn with a fixed numpy seed, and writes one JSON file per input to test/fixtures/pooling/.

Run once from the repository root (colts itself needs no Python):
    python3 bench/tools/pooling-golden.py            # writes test/fixtures/pooling/*.json
    python3 bench/tools/pooling-golden.py --many F   # writes a larger, uncommitted agreement set to F
"""
import json
import os
import sys

import numpy as np
import scipy
from scipy.cluster import hierarchy

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "fixtures", "pooling")


def f32_list(a):
    # Shortest decimal that round-trips to the same float32 (Math.fround(x) recovers it in JS).
    return [float(str(np.float32(v))) for v in np.asarray(a, dtype=np.float32).ravel()]


def unit_rows(rng, n, dim, duplicates=0):
    x = rng.standard_normal((n, dim)).astype(np.float32)
    for _ in range(duplicates):  # exact repeats: zero distances and ties
        i, j = rng.integers(0, n, size=2)
        x[j] = x[i]
    x /= np.linalg.norm(x, axis=1, keepdims=True).astype(np.float32)
    return x.astype(np.float32)


def pylate_pool(doc, pool_factor, protected_tokens):
    protected = doc[:protected_tokens]
    to_pool = doc[protected_tokens:]
    m = len(to_pool)
    k = max(m // pool_factor, 1)
    if k >= m:
        return None
    cos_sim = to_pool @ to_pool.T  # float32, like torch.mm
    dist = 1 - cos_sim  # float32
    condensed = dist[np.triu_indices(m, k=1)]
    # colts clamps negative distances (cos rounded above 1 for duplicate rows) to 0; PyLate passes them
    # on and SciPy's fcluster then raises "Linkage 'Z' contains negative distances". Same result otherwise.
    condensed = np.maximum(condensed, np.float32(0))
    Z = hierarchy.linkage(condensed, method="ward")
    labels = hierarchy.fcluster(Z, t=k, criterion="maxclust")
    sums = np.zeros((k, doc.shape[1]), dtype=np.float32)
    counts = np.zeros(k, dtype=np.int64)
    np.add.at(sums, labels - 1, to_pool)  # float32 accumulation in index order, like scatter_add_
    np.add.at(counts, labels - 1, 1)
    keep = counts > 0
    pooled = sums[keep] / counts[keep][:, None].astype(np.float32)
    out = np.concatenate([protected, pooled.astype(np.float32)], axis=0)
    return {"clusters": int(k), "labels": [int(v) for v in labels], "Z": [float(v) for v in Z.ravel()], "count": int(len(out)), "pooled": f32_list(out)}


def case(name, seed, n, dim, protected_tokens=1, factors=(2, 3, 4), duplicates=0, with_z=True):
    rng = np.random.default_rng(seed)
    x = unit_rows(rng, n, dim, duplicates)
    results = []
    for f in factors:
        r = pylate_pool(x, f, protected_tokens)
        if r is None:
            results.append({"poolFactor": f, "identity": True})
            continue
        if not with_z:
            del r["Z"]
        results.append({"poolFactor": f, **r})
    return {"name": name, "seed": seed, "n": n, "dim": dim, "protectedTokens": protected_tokens, "vectors": f32_list(x), "results": results}


def main():
    header = {"generator": "bench/tools/pooling-golden.py", "numpy": np.__version__, "scipy": scipy.__version__}
    if len(sys.argv) == 3 and sys.argv[1] == "--many":
        cases = []
        rng = np.random.default_rng(2024)
        for t in range(300):
            n = int(rng.integers(3, 400))
            dim = int(rng.choice([16, 32, 64, 128]))
            cases.append(case(f"many-{t}", 10_000 + t, n, dim, 1, (2, 3, 4), duplicates=int(rng.integers(0, 3)), with_z=False))
        with open(sys.argv[2], "w") as f:
            json.dump({**header, "cases": cases}, f)
        return
    os.makedirs(OUT_DIR, exist_ok=True)
    cases = [
        case("n5-d16", 1, 5, 16),
        case("n17-d32", 2, 17, 32),
        case("n17-d32-p0", 3, 17, 32, protected_tokens=0),
        case("n64-d32-p3", 4, 64, 32, protected_tokens=3),
        case("n40-d16-dups", 5, 40, 16, duplicates=6),
        case("n300-d16", 6, 300, 16),
    ]
    for c in cases:
        with open(os.path.join(OUT_DIR, c["name"] + ".json"), "w") as f:
            json.dump({**header, **c}, f, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main()

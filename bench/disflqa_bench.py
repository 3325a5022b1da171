"""Disfl-QA through the API: retrieval, answers, declines and latency, with the h2ogpte client.

Starts ``parley serve`` on a fresh data directory, ingests the 1,204 paragraphs (each a document ``<id>.txt``)
with the h2ogpte REST client, asks every dev question, and prints:
- retrieval (answerable questions, from each answer's references in score order): R@1, R@5, MRR@10 for
  dense, BM25 and hybrid;
- answers: the share of answered answerable questions whose answer contains a gold span, and the share answered;
- declines: balanced accuracy over answerable and unanswerable questions;
- latency of ``get_completion`` (rag) for 1 and 8 concurrent clients, beside the bare pipeline (embed, dense and
  BM25 search, fusion, sentence selection) timed in-process on the same data afterwards, as a ratio.

``python -m bench.disflqa_bench [--limit N] [--data DIR] [--engine embedded|postgres|both]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import h2ogpte.rest_sync as rest
from tqdm import tqdm

from api.bootstrap import bootstrap
from api.settings import Settings
from bench.metrics import (
    RetrievalScore,
    contains_span,
    is_decline,
    latency_row,
    load_corpus,
    load_queries,
    percentile,
    ranked_documents,
)
from domain.answering import AnswerRequest
from tests.server import ADMIN_KEY, ServerProcess

SESSION_BATCH = 100  # questions per chat session (a session is a conversation, not a benchmark log)


def ingest(api: rest.ApiClient) -> str:
    collections, ingestion, jobs = rest.CollectionsApi(api), rest.DocumentIngestionApi(api), rest.JobsApi(api)
    collection = collections.create_collection(rest.CollectionCreateRequest(name="disflqa", description="dev"))
    corpus = load_corpus()
    started = time.perf_counter()
    ids = [ingestion.upload_file(file=(f"{p['id']}.txt", p["text"].encode())).id for p in tqdm(corpus, desc="upload")]
    job = ingestion.create_ingest_upload_job(ids, collection_id=collection.id)
    with tqdm(total=100, desc="ingest", unit="%") as bar:
        while job.overall_status == "in progress":
            time.sleep(0.5)
            job = jobs.get_job(job.id)
            bar.update(round(job.progress * 100 - bar.n, 1))
    elapsed = time.perf_counter() - started
    assert job.overall_status == "completed" and not job.errors, job
    print(f"ingested {len(ids)} documents through the API in {elapsed:.1f} s ({len(ids) / elapsed:.1f} docs/s)")
    return str(collection.id)


def ask_all(
    api: rest.ApiClient, collection_id: str, queries: list[dict[str, Any]], retrieval: str
) -> list[dict[str, Any]]:
    chat = rest.ChatApi(api)
    results = []
    session = None
    for index, query in enumerate(tqdm(queries, desc=retrieval)):
        if index % SESSION_BATCH == 0:
            session = chat.create_chat_session(collection_id=collection_id)
        assert session is not None
        request = rest.ChatCompletionRequest(
            message=str(query["question"]),
            rag_config={"rag_type": "rag", "retrieval": retrieval, "rag_max_chunks": 10},
            include_chat_history="false",
        )
        started = time.perf_counter()
        answer = chat.get_completion(session.id, request)
        seconds = time.perf_counter() - started
        references = chat.get_message_references(answer.message_id)
        results.append(
            {
                "query": query,
                "text": answer.body,
                "documents": ranked_documents([r.document_name for r in references]),
                "seconds": seconds,
            }
        )
    return results


def concurrent_latency(
    server: ServerProcess, collection_id: str, queries: list[dict[str, Any]], clients: int
) -> list[float]:
    seconds: list[float] = []
    lock = threading.Lock()

    def worker(part: list[dict[str, Any]]) -> None:
        api = rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY))
        chat = rest.ChatApi(api)
        session = chat.create_chat_session(collection_id=collection_id)
        for query in part:
            request = rest.ChatCompletionRequest(message=str(query["question"]), include_chat_history="false")
            started = time.perf_counter()
            chat.get_completion(session.id, request)
            with lock:
                seconds.append(time.perf_counter() - started)

    threads = [threading.Thread(target=worker, args=(queries[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seconds


def bare_pipeline(
    data_dir: Path, collection_id: str, queries: list[dict[str, Any]], env: dict[str, str]
) -> list[float]:
    """The pipeline alone, in this process, on the stores the server used (``env``: their settings)."""
    settings = Settings.from_env({**os.environ, **env}, data_dir=data_dir, admin_api_key=ADMIN_KEY)
    parley = bootstrap(settings)
    parley.start()
    try:
        seconds = []
        for query in tqdm(queries, desc="bare pipeline"):
            request = AnswerRequest(
                question=str(query["question"]), collection_id=collection_id, rag_type="rag", llm="extractive"
            )
            started = time.perf_counter()
            parley.answerer.answer(request)
            seconds.append(time.perf_counter() - started)
        return seconds
    finally:
        parley.close()


def ask_through_the_api(
    engine: str, args: argparse.Namespace, queries: list[dict[str, Any]], data_dir: Path, env: dict[str, str]
) -> tuple[dict[str, list[dict[str, Any]]], list[float], str]:
    """A server on the stores: ingest (unless --data names an ingested directory), then every pass of questions."""
    server = ServerProcess(data_dir, env).start()
    try:
        api = rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY))
        existing = [c for c in rest.CollectionsApi(api).list_collections(limit=1000) if c.name == "disflqa"]
        if existing and args.data is not None and engine == "embedded":
            collection_id = str(existing[0].id)  # --data names a directory ingested by an earlier run
        else:
            collection_id = ingest(api)
            # Restart: the server answers only once every projection (sentence vectors too) has caught up.
            server.stop()
            started = time.perf_counter()
            server.start(timeout=1800)
            print(f"restarted and caught up in {time.perf_counter() - started:.1f} s")
        by_mode = {}
        for mode in () if args.answers_only else ("dense", "bm25"):
            by_mode[mode] = ask_all(api, collection_id, [q for q in queries if q["answerable"]], mode)
        by_mode["hybrid"] = ask_all(api, collection_id, queries, "hybrid")
        eight = [] if args.answers_only else concurrent_latency(server, collection_id, queries[:400], clients=8)
    finally:
        server.stop()
    return by_mode, eight, collection_id


def run_engine(engine: str, args: argparse.Namespace, queries: list[dict[str, Any]]) -> dict[str, Any]:
    """Ingests, asks and times on one engine's stores; returns what the report prints."""
    data_dir = (args.data if engine == "embedded" else None) or Path(
        tempfile.mkdtemp(prefix="parley-disflqa-")
    ) / "data"
    env, postgres = {}, None
    if engine == "postgres":
        from tests.postgres import PostgresServer

        postgres = PostgresServer()
        env = {"PARLEY_EVENT_STORE": "postgres", "PARLEY_READ_STORE": "postgres", "PARLEY_VECTOR_INDEX": "pgvector",
               "PARLEY_POSTGRES_URL": postgres.url}  # fmt: skip
    try:
        by_mode, eight, collection_id = ask_through_the_api(engine, args, queries, data_dir, env)
        # The bare pipeline, in-process on the same stores (the server has stopped, so nothing else holds them).
        bare = [] if args.answers_only else bare_pipeline(data_dir, collection_id, queries[:400], env)
    finally:
        if postgres is not None:
            postgres.stop()
    return {"engine": engine, "by_mode": by_mode, "eight": eight, "bare": bare}


def report(figures: dict[str, Any], queries: list[dict[str, Any]], answers_only: bool) -> dict[str, float]:
    answerable = [q for q in queries if q["answerable"]]
    print(f"\nDisfl-QA dev, {len(answerable)} answerable + {len(queries) - len(answerable)} unanswerable questions,"
          f" {figures['engine']} stores")  # fmt: skip
    print(f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores")
    print("\nretrieval (answerable, document level, from the answer's references):")
    summary: dict[str, float] = {}
    for mode, results in figures["by_mode"].items():
        score = RetrievalScore()
        for result in results:
            if result["query"]["answerable"]:
                score.add(result["documents"], str(result["query"]["doc"]))
        print(f"  {mode:<7} {score.row()}")
        if mode == "hybrid":
            summary["hybrid R@5"] = score.recall(5)
    hybrid = figures["by_mode"]["hybrid"]
    asked = [r for r in hybrid if r["query"]["answerable"]]
    answered = [r for r in asked if not is_decline(r["text"])]
    contained = sum(contains_span(r["text"], r["query"]["answers"]) for r in answered) / max(len(answered), 1)
    unanswerable = [r for r in hybrid if not r["query"]["answerable"]]
    declined = sum(is_decline(r["text"]) for r in unanswerable) / max(len(unanswerable), 1)
    answered_share = len(answered) / max(len(asked), 1)
    summary.update({"answered": answered_share, "gold span": contained, "declined": declined})
    print("\nanswers (hybrid):")
    print(f"  answered {answered_share:.3f} of answerable; {contained:.3f} of those contain a gold span")
    print(f"  declined {declined:.3f} of unanswerable; balanced accuracy {(answered_share + declined) / 2:.3f}")
    if answers_only:
        return summary
    one, eight, bare = [r["seconds"] for r in hybrid], figures["eight"], figures["bare"]
    print("\nlatency of get_completion (rag, hybrid):")
    print("  " + latency_row("API, 1 client", one))
    print("  " + latency_row("API, 8 concurrent clients", eight))
    print("  " + latency_row("bare pipeline (in-process)", bare))
    ratio = percentile(one, 0.5) / percentile(bare, 0.5)
    print(f"  API p50 / bare p50 = {ratio:.2f}x; 8-client throughput {len(eight) / sum(eight) * 8:.1f} req/s")
    print(f"  mean bare {statistics.fmean(bare) * 1000:.1f} ms")
    summary.update({"API p50 s": percentile(one, 0.5), "8 clients p50 s": percentile(eight, 0.5),
                    "bare p50 s": percentile(bare, 0.5)})  # fmt: skip
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N questions")
    parser.add_argument(
        "--data", type=Path, default=None, help="embedded data directory, reused when an earlier run ingested it"
    )
    parser.add_argument(
        "--answers-only",
        action="store_true",
        help="only the hybrid answers and declines (no dense/BM25 passes, no latency)",
    )
    parser.add_argument(
        "--engine",
        choices=["embedded", "postgres", "both"],
        default="embedded",
        help="postgres: the events, read models, full-text search and pgvector on a PostgreSQL started for the run;"
        " both: embedded, then postgres, in one run, with the ratios",
    )
    args = parser.parse_args()
    queries = load_queries()[: args.limit or None]
    engines = ["embedded", "postgres"] if args.engine == "both" else [args.engine]
    summaries = [report(run_engine(engine, args, queries), queries, args.answers_only) for engine in engines]
    if len(summaries) == 2:
        embedded, postgres = summaries
        print("\npostgres beside embedded, same questions, same process:")
        for key, value in embedded.items():
            if key.endswith(" s"):
                print(f"  {key[:-2]:<16} {postgres[key] * 1000:7.1f} ms vs {value * 1000:7.1f} ms ="
                      f" {postgres[key] / value:.2f}x")  # fmt: skip
            else:
                print(f"  {key:<16} {postgres[key]:.3f} vs {value:.3f}")


if __name__ == "__main__":
    main()

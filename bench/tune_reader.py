"""In-process evaluation on the Disfl-QA dev questions, for choosing retrieval and reader settings.

Builds (once) a data directory with the 1,204 paragraphs ingested through the domain, then answers every
question with the real pipeline (declines off) and prints retrieval figures for each retrieval mode and, for
hybrid retrieval, the decline trade-off of the learned decline model (``adapters/rag/decline_model.json``) over a
sweep of cutoffs on its probability that a question is answerable (``PARLEY_DECLINE_THRESHOLD`` sets one). The
sweep is on the questions the model was fitted on, so it is a training figure: ``bench/fit_decline.py`` gives the
cross-validated ones. ``python -m bench.tune_reader [--limit N] [--modes hybrid,dense,bm25]``.
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
from tqdm import tqdm

from api.bootstrap import Parley, bootstrap
from api.settings import Settings
from bench.metrics import RetrievalScore, contains_span, load_corpus, load_queries, ranked_documents
from domain import collection, job, upload
from domain.answering import AnswerRequest
from domain.events import CollectionSettings
from domain.service import stream_name

DATA = Path(__file__).parent / ".data" / "disflqa-inprocess"


def ensure_ingested(parley: Parley) -> str:
    rows = parley.read_models.collections(0, 10, "name", True)
    if rows:
        first = rows[0]
        return str(first["id"] if isinstance(first, dict) else first.id)  # a typed view since the read-side ports
    collection_id = str(uuid.uuid4())
    parley.handler.execute(
        collection,
        stream_name("collection", collection_id),
        collection.CreateCollection(
            collection_id=collection_id, name="disflqa", description="", embedding_model="all-MiniLM-L6-v2", owner="b"
        ),
    )
    ids = []
    for paragraph in tqdm(load_corpus(), desc="upload"):
        data = paragraph["text"].encode()
        upload_id = str(uuid.uuid4())
        parley.handler.execute(
            upload,
            stream_name("upload", upload_id),
            upload.ReceiveUpload(
                upload_id=upload_id,
                filename=f"{paragraph['id']}.txt",
                size=len(data),
                content_hash=parley.blobs.put(data),
                owner="b",
            ),
        )
        ids.append(upload_id)
    job_id = str(uuid.uuid4())
    parley.handler.execute(
        job,
        stream_name("job", job_id),
        job.StartJob(
            job_id=job_id, kind="ingest", name="disflqa", collection_id=collection_id, items=tuple(ids), owner="b"
        ),
    )
    started = time.perf_counter()
    parley.ingestor.run(job_id, collection_id, ids, CollectionSettings(), "b")
    print(f"ingested {len(ids)} paragraphs in {time.perf_counter() - started:.1f} s")
    return collection_id


def answer_all(
    parley: Parley, collection_id: str, queries: list[dict[str, Any]], **overrides: Any
) -> list[dict[str, Any]]:
    results = []
    for query in tqdm(queries, desc=str(overrides or "default"), leave=False):
        request = AnswerRequest(
            question=str(query["question"]),
            collection_id=collection_id,
            rag_type="rag",
            llm="extractive",
            **overrides,
        )
        started = time.perf_counter()
        answer = parley.answerer.answer(request)
        results.append(
            {
                "query": query,
                "text": answer.text,
                "documents": ranked_documents([r.document_name for r in answer.references]),
                "seconds": time.perf_counter() - started,
                # the learned decline's probability (the reader's confidence without a fitted model)
                "best": answer.usage.get("answerable_probability", answer.usage.get("confidence")),
            }
        )
    return results


def retrieval_figures(results: list[dict[str, Any]]) -> str:
    score = RetrievalScore()
    for result in results:
        if result["query"]["answerable"]:
            score.add(result["documents"], str(result["query"]["doc"]))
    return score.row()


def decline_sweep(results: list[dict[str, Any]], default: float | None) -> None:
    answerable = [r for r in results if r["query"]["answerable"]]
    unanswerable = [r for r in results if not r["query"]["answerable"]]
    cutoffs = {x / 100 for x in range(30, 96, 5)} | ({round(default, 4)} if default is not None else set())
    for threshold in sorted(cutoffs):
        answered = [r for r in answerable if (r["best"] or 0) >= threshold]
        contained = sum(contains_span(r["text"], r["query"]["answers"]) for r in answered) / max(len(answered), 1)
        answered_share = len(answered) / max(len(answerable), 1)
        declined = sum((r["best"] or 0) < threshold for r in unanswerable) / max(len(unanswerable), 1)
        balanced = (answered_share + declined) / 2
        print(
            f"threshold {threshold:.2f}: answered {answered_share:.3f}  contains-span {contained:.3f}"
            f"  declined-unanswerable {declined:.3f}  balanced {balanced:.3f}"
            + ("  (the model's cutoff)" if threshold == default else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--modes", default="hybrid,dense,bm25")
    args = parser.parse_args()
    parley = bootstrap(Settings(data_dir=DATA, admin_api_key="sk-bench"))
    parley.start()
    try:
        collection_id = ensure_ingested(parley)
        queries = load_queries()
        if args.limit:
            queries = queries[: args.limit]
        default = None
        for generator in parley.answerer.generators():
            generator.weights = msgspec.structs.replace(generator.weights, threshold=-9.0)  # the sweep decides
            default = generator.decline.cutoff if generator.decline is not None else None
        for mode in args.modes.split(","):
            results = answer_all(parley, collection_id, queries, retrieval=mode)
            print(f"{mode:<8} {retrieval_figures(results)}")
            if mode == "hybrid":
                decline_sweep(results, default)
    finally:
        parley.close()


if __name__ == "__main__":
    main()

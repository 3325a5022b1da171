"""Real documents through the API: ten public PDFs (``../shared/data/realdocs``), tables and prose.

Starts ``parley serve`` on a fresh data directory, uploads and ingests the ten PDFs into one collection with the
h2ogpte REST client, asks each question in a fresh chat session (``rag``, hybrid retrieval, no history), and
prints:
- answers: the share of answerable questions answered (not declined) with a gold span in the body, for all,
  for table questions and for prose questions (gold spans matched as in ``bench/metrics.py``);
- declines: the share of unanswerable questions declined, and of answerable ones declined;
- references: the share of answerable questions whose first reference (by score) is the gold document and page,
  and whose gold page is among the first five.

``python -m bench.realdocs_bench [--questions FILE] [--json OUT]``; ``--json`` writes every question's answer,
references and the reader's usage stats, for looking at what went wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import h2ogpte.rest_sync as rest

from bench.metrics import contains_span, is_decline
from tests.server import ADMIN_KEY, ServerProcess

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "realdocs"


def data_dir() -> Path:
    """The shared data set: ../shared/data/realdocs beside the checkout (or PARLEY_REALDOCS)."""
    return Path(os.environ.get("PARLEY_REALDOCS", DATA))


def load_questions(path: Path | None = None) -> list[dict[str, Any]]:
    with (path or data_dir() / "questions-dev.jsonl").open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


def ingest(api: rest.ApiClient) -> str:
    collections, ingestion = rest.CollectionsApi(api), rest.DocumentIngestionApi(api)
    collection = collections.create_collection(rest.CollectionCreateRequest(name="realdocs", description="pdfs"))
    pdfs = sorted((data_dir() / "pdfs").glob("*.pdf"))
    started = time.perf_counter()
    ids = [ingestion.upload_file(file=(path.name, path.read_bytes())).id for path in pdfs]
    job = ingestion.create_ingest_upload_job(ids, collection_id=collection.id)
    while job.overall_status == "in progress":
        time.sleep(0.5)
        job = rest.JobsApi(api).get_job(job.id)
    elapsed = time.perf_counter() - started
    assert job.overall_status == "completed" and not job.errors, job
    print(f"ingested {len(ids)} PDFs through the API in {elapsed:.1f} s")
    return str(collection.id)


def ask_all(api: rest.ApiClient, collection_id: str, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chat = rest.ChatApi(api)
    results = []
    for question in questions:
        session = chat.create_chat_session(collection_id=collection_id)
        request = rest.ChatCompletionRequest(
            message=question["question"],
            rag_config={"rag_type": "rag", "retrieval": "hybrid", "rag_max_chunks": 10},
            include_chat_history="false",
        )
        answer = chat.get_completion(session.id, request)
        references = chat.get_message_references(answer.message_id)
        usage = json.loads(chat.get_message_meta(answer.message_id, info_type="usage_stats")[0].content)
        results.append(
            {
                "question": question,
                "text": answer.body,
                "references": [
                    {"document": r.document_name, "pages": str(r.pages), "score": r.score} for r in references
                ],
                "usage": usage,
            }
        )
    return results


def on_page(reference: dict[str, Any], question: dict[str, Any]) -> bool:
    pages = {int(p) for p in str(reference["pages"]).replace(",", " ").split() if p.isdigit()}
    return bool(reference["document"] == question["doc"] and question["page"] in pages)


def share(hits: int, total: int) -> str:
    return f"{hits / total:.3f} ({hits}/{total})" if total else "n/a"


def report(results: list[dict[str, Any]]) -> None:
    answerable = [r for r in results if r["question"]["answerable"]]
    unanswerable = [r for r in results if not r["question"]["answerable"]]
    print(f"\nrealdocs: {len(answerable)} answerable + {len(unanswerable)} unanswerable questions")
    print("answers containing a gold span, among answerable questions (declines count as misses):")
    for kind in ("all", "table", "prose"):
        group = [r for r in answerable if kind == "all" or r["question"]["kind"] == kind]
        good = sum(not is_decline(r["text"]) and contains_span(r["text"], r["question"]["answers"]) for r in group)
        print(f"  {kind:<6} {share(good, len(group))}")
    declined = sum(is_decline(r["text"]) for r in unanswerable)
    print(f"unanswerable declined: {share(declined, len(unanswerable))}")
    print(f"answerable declined:   {share(sum(is_decline(r['text']) for r in answerable), len(answerable))}")
    first = sum(bool(r["references"]) and on_page(r["references"][0], r["question"]) for r in answerable)
    top5 = sum(any(on_page(ref, r["question"]) for ref in r["references"][:5]) for r in answerable)
    print(f"gold page first among references: {share(first, len(answerable))}")
    print(f"gold page in the first five:      {share(top5, len(answerable))}")
    print("\nper question:")
    for r in results:
        q = r["question"]
        hit = contains_span(r["text"], q["answers"]) and not is_decline(r["text"])
        mark = ("ok  " if hit else "MISS") if q["answerable"] else ("ok  " if is_decline(r["text"]) else "MISS")
        top = r["references"][0] if r["references"] else {"document": "-", "pages": "-"}
        body = " ".join(r["text"].split())[:150]
        print(f"  {mark} {q['id']} [{q['kind']}] top={top['document']}:{top['pages']}  {body}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=None, help="a questions file (default: the dev split)")
    parser.add_argument("--json", type=Path, default=None, help="write every answer here")
    args = parser.parse_args()
    questions = load_questions(args.questions)
    data = Path(tempfile.mkdtemp(prefix="parley-realdocs-")) / "data"
    server = ServerProcess(data).start()
    try:
        api = rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY))
        collection_id = ingest(api)
        results = ask_all(api, collection_id, questions)
    finally:
        server.stop()
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

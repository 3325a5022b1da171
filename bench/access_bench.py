"""What access control costs a request: the same questions and reads through the API as an admin (whose calls
skip the per-resource checks and the rate limiter) and as the collection's owner, a user whose every call reads
its key's row, is checked by the access guard (the session, its collection, the shares) and counted by the
limiter, in one server and one process, interleaved (each going first in turn) after an untimed warm-up, so that
both see the same machine.

    .venv/bin/python -m bench.access_bench [--documents 200] [--questions 200]

Documents are Disfl-QA paragraphs (``../shared/data/disflqa``); questions are its dev questions. Figures are p50
and p95 per call and the user's p50 as a ratio of the admin's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from tests.server import ADMIN_KEY, ServerProcess

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "disflqa"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    options = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    options.add_argument("--documents", type=int, default=200)
    options.add_argument("--questions", type=int, default=200)
    args = options.parse_args()
    corpus = [json.loads(line) for line in (DATA / "corpus.jsonl").open()][: args.documents]
    questions = [json.loads(line) for line in (DATA / "queries-dev.jsonl").open()][: args.questions]

    with tempfile.TemporaryDirectory() as scratch:
        env = {"PARLEY_RATE_LIMIT_PER_MINUTE": "0"}  # the limiter still counts; no request is refused
        server = ServerProcess(Path(scratch) / "data", extra_env=env).start()
        try:
            admin = httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=120)
            made = admin.post("/admin/api_keys", json={"user_id": f"owner-{uuid.uuid4().hex[:6]}"}).json()
            owner = httpx.Client(
                base_url=server.api_url, headers={"Authorization": f"Bearer {made['secret_key']}"}, timeout=120
            )
            collection = owner.post("/collections", json={"name": "Disfl-QA", "description": ""}).json()["id"]
            text = "\n\n".join(str(document.get("text", "")) for document in corpus)
            upload = owner.put("/uploads", files={"file": ("corpus.txt", text.encode())}).json()["id"]
            started = time.perf_counter()
            owner.post(f"/uploads/{upload}/ingest", params={"collection_id": collection, "timeout": 1200})
            print(f"ingested {len(corpus)} paragraphs in {time.perf_counter() - started:.1f} s")
            sessions = {
                name: client.post("/chats", params={"collection_id": collection}).json()["id"]
                for name, client in (("admin", admin), ("owner", owner))
            }
            timings: dict[str, dict[str, list[float]]] = {name: {"ask": [], "read": []} for name in sessions}
            callers = [("admin", admin), ("owner", owner)]
            # Warm-up, untimed: the first answers load the reader, and the sentence vectors of the documents are
            # computed in the background after ingestion: given half a minute to finish.
            for question in questions[:20]:
                for name, client in callers:
                    client.post(f"/chats/{sessions[name]}/completions", json={"message": question["question"]})
            time.sleep(30)
            for index, question in enumerate(questions):
                for name, client in callers if index % 2 == 0 else callers[::-1]:  # each goes first in turn
                    session = sessions[name]
                    began = time.perf_counter()
                    answer = client.post(f"/chats/{session}/completions", json={"message": question["question"]})
                    timings[name]["ask"].append(time.perf_counter() - began)
                    assert answer.status_code == 200, answer.text
                    began = time.perf_counter()
                    read = client.get(f"/messages/{answer.json()['message_id']}/references")
                    timings[name]["read"].append(time.perf_counter() - began)
                    assert read.status_code == 200, read.text
        finally:
            server.stop()

    print(f"{len(questions)} questions each, interleaved; p50 / p95 in ms")
    for call in ("ask", "read"):
        admin_p50 = statistics.median(timings["admin"][call])
        for name in ("admin", "owner"):
            values = timings[name][call]
            p50, p95 = statistics.median(values) * 1000, percentile(values, 0.95) * 1000
            ratio = statistics.median(values) / admin_p50
            print(f"  {call:<5} as {name:<6} p50 {p50:7.2f}  p95 {p95:7.2f}  = {ratio:.2f}x the admin's p50")


if __name__ == "__main__":
    main()

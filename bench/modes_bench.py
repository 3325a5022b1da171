"""What each RAG mode costs with the extractive model, in-process, beside ``rag`` in the same run.

Uses the Disfl-QA data directory of ``bench.tune_reader`` (built on first use: 1,204 paragraphs), answers the same
dev questions in every mode and prints p50/p95 latency, model calls and references per answer, with each mode's
p50 as a ratio to ``rag``'s. ``all_data`` is not timed: the whole corpus is far above the call limit, which is
what the limit is for. ``python -m bench.modes_bench [--limit N]``
"""

from __future__ import annotations

import argparse
import statistics
import time

from tqdm import tqdm

from api.bootstrap import bootstrap
from api.settings import Settings
from bench.metrics import load_queries
from bench.tune_reader import DATA, ensure_ingested
from domain.answering import AnswerRequest, Reflection

MODES = ("rag", "llm_only", "hyde1", "hyde2", "rag+", "rag (+ self-reflection)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=200, help="questions per mode")
    args = parser.parse_args()
    parley = bootstrap(Settings(data_dir=DATA))
    parley.start()
    try:
        collection_id = ensure_ingested(parley)
        questions = [str(q["question"]) for q in load_queries() if q["answerable"]][: args.limit]
        rows = []
        for mode in MODES:
            reflect = mode.endswith("self-reflection)")
            times, calls, references = [], [], []
            for question in tqdm(questions, desc=mode, leave=False):
                request = AnswerRequest(
                    question=question,
                    collection_id=collection_id,
                    rag_type=mode.split()[0],
                    llm="extractive",
                    reflection=Reflection(llm="extractive") if reflect else None,
                )
                started = time.perf_counter()
                answer = parley.answerer.answer(request)
                times.append(time.perf_counter() - started)
                calls.append(answer.usage["llm_calls"])
                references.append(len(answer.references))
            rows.append((mode, times, calls, references))
        base = statistics.median(rows[0][1])
        print(f"\nmodes with the extractive model, {len(questions)} Disfl-QA dev questions, 1,204 paragraphs")
        print(f"{'mode':26} {'p50 ms':>8} {'p95 ms':>8} {'x rag':>6} {'calls':>6} {'refs':>6}")
        for mode, times, calls, references in rows:
            p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[-1]
            print(
                f"{mode:26} {p50 * 1000:8.1f} {p95 * 1000:8.1f} {p50 / base:6.2f} "
                f"{statistics.mean(calls):6.2f} {statistics.mean(references):6.1f}"
            )
    finally:
        parley.close()


if __name__ == "__main__":
    main()

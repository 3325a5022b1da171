"""Fit the extractive reader's decline model (``adapters/rag/decline_model.json``) with cross-validation.

Asks every Disfl-QA dev question and every realdocs dev question through the API with declines switched off
(``PARLEY_DECLINE_THRESHOLD=-9``), records the reader's signals from each answer's ``usage_stats``, and fits a
logistic regression (scikit-learn) on both data sets pooled. What it learns to tell apart (``--target``): by
default an answerable question from an unanswerable one; ``correct`` learns a question the reader answers rightly
(answerable, and its answer holds a gold span) from any other, so that a decline also saves a wrong answer (it
declined more right answers on the PDFs, out of fold: 0.55 of them kept against 0.75).
Figures are reported out of fold (5 folds, stratified by data set and label, grouped by source document: the
questions on one Disfl-QA paragraph or one PDF are in the same fold, so a fold never sees the document of a
question it is scored on): for each fold the model and its cutoffs are fitted on the other folds only. There are
two cutoffs, one for contexts of prose and one for contexts mostly of table rows and form lines (the same model's
probabilities sit lower there); each is the one that maximises, on the questions of its kind, the mean of the
data sets' balanced accuracies while answering at least ``--min-answered`` of Disfl-QA's answerable questions.
The realdocs questions are few, so each weighs more (together ``--realdocs-weight`` of the Disfl-QA questions'
weight, a quarter by default).
Four unanswerable realdocs dev questions are too few to learn what an unanswerable question on a table or a
form looks like, so the model also trains on Parley's own questions on the same PDFs
(``bench/data/realdocs-train.jsonl``, 60 written for this, half of them unanswerable); they are never scored, and
they sit in the fold of the dev questions on their PDF. The final model is fitted on everything.

With ``--repeats N`` the cross-validation is also run with N draws of the folds, and the mean and range of the
figures printed: with 24 realdocs questions, which question falls in which fold moves a figure by 0.05.

``python -m bench.fit_decline [--disflqa-data DIR] [--signals FILE] [--repeats N] [--write]``; DIR is a data
directory that ``bench.disflqa_bench --data DIR`` ingested (it is ingested here otherwise).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import h2ogpte.rest_sync as rest
import numpy as np
from tqdm import tqdm

from adapters.rag.decline import FEATURES, MODEL_PATH, STRUCTURED
from bench import realdocs_bench
from bench.disflqa_bench import ingest as ingest_disflqa
from bench.metrics import contains_span, load_queries
from tests.server import ADMIN_KEY, ServerProcess

NEVER_DECLINE = {"PARLEY_DECLINE_THRESHOLD": "-9"}
# Parley's own questions on the realdocs PDFs, for training only: never scored, and in the same fold as the dev
# questions on their PDF, so a dev question is never scored by a model that saw its document.
TRAIN_QUESTIONS = Path(__file__).parent / "data" / "realdocs-train.jsonl"


def data_set(source: str) -> str:
    """The data set of a question's source: "realdocs" for the realdocs dev and training questions alike."""
    return source.removesuffix("_train")


def ask(api: rest.ApiClient, collection_id: str, questions: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    chat = rest.ChatApi(api)
    rows = []
    session = None
    for index, question in enumerate(tqdm(questions, desc=source)):
        if source == "realdocs" or index % 100 == 0:
            session = chat.create_chat_session(collection_id=collection_id)
        assert session is not None
        request = rest.ChatCompletionRequest(
            message=str(question["question"]),
            rag_config={"rag_type": "rag", "retrieval": "hybrid", "rag_max_chunks": 10},
            include_chat_history="false",
        )
        answer = chat.get_completion(session.id, request)
        usage = json.loads(chat.get_message_meta(answer.message_id, info_type="usage_stats")[0].content)
        rows.append(
            {
                "source": source,
                "group": f"{data_set(source)}:{question.get('doc')}",  # a PDF's dev and training questions
                "answerable": bool(question["answerable"]),
                "kind": question.get("kind", "prose"),
                "contains": bool(question["answerable"]) and contains_span(answer.body, question["answers"]),
                "answer": answer.body,  # kept for reading the errors, and for signals computed after the run
                "signals": usage.get("reader_signals", {}),
            }
        )
    return rows


def _stop(server: ServerProcess) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):  # a busy server missing the 20 s drain is killed
        server.stop()


def collect(disflqa_data: Path | None, cache: Path | None) -> list[dict[str, Any]]:
    """Every question's signals, per data set; with ``cache``, a data set collected before is read from it."""
    done: dict[str, list[dict[str, Any]]] = json.loads(cache.read_text()) if cache and cache.exists() else {}
    if "disflqa" not in done:
        data = disflqa_data or Path(tempfile.mkdtemp(prefix="parley-fit-")) / "data"
        server = ServerProcess(data, extra_env=NEVER_DECLINE).start(timeout=1800)
        try:
            api = rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY))
            existing = [c for c in rest.CollectionsApi(api).list_collections(limit=1000) if c.name == "disflqa"]
            collection_id = str(existing[0].id) if existing else ingest_disflqa(api)
            done["disflqa"] = ask(api, collection_id, load_queries(), "disflqa")
        finally:
            _stop(server)
        if cache:
            cache.write_text(json.dumps(done))
    if "realdocs" not in done or "realdocs_train" not in done:
        data = Path(tempfile.mkdtemp(prefix="parley-fit-")) / "data"
        server = ServerProcess(data, extra_env=NEVER_DECLINE).start()
        try:
            api = rest.ApiClient(rest.Configuration(host=server.api_url, access_token=ADMIN_KEY))
            collection_id = realdocs_bench.ingest(api)
            if "realdocs" not in done:
                done["realdocs"] = ask(api, collection_id, realdocs_bench.load_questions(), "realdocs")
            train = realdocs_bench.load_questions(TRAIN_QUESTIONS)
            done["realdocs_train"] = ask(api, collection_id, train, "realdocs_train")
        finally:
            _stop(server)
        if cache:
            cache.write_text(json.dumps(done))
    return done["disflqa"] + done["realdocs"] + done["realdocs_train"]


def figures(rows: list[dict[str, Any]], declined: np.ndarray) -> dict[str, float]:
    answerable = [i for i, r in enumerate(rows) if r["answerable"]]
    unanswerable = [i for i, r in enumerate(rows) if not r["answerable"]]
    answered = [i for i in answerable if not declined[i]]
    answered_share = len(answered) / max(len(answerable), 1)
    declined_share = float(np.mean([declined[i] for i in unanswerable])) if unanswerable else float("nan")
    return {
        "answered": answered_share,
        "gold_in_answered": sum(rows[i]["contains"] for i in answered) / max(len(answered), 1),
        "gold_of_answerable": sum(rows[i]["contains"] for i in answered) / max(len(answerable), 1),
        "declined": declined_share,
        "balanced": (answered_share + declined_share) / 2,
    }


def choose_cutoff(probabilities: np.ndarray, rows: list[dict[str, Any]], min_answered: float) -> float:
    """The cutoff with the best mean of each data set's balanced accuracy, answering at least ``min_answered`` of
    Disfl-QA's answerable questions (a data set without unanswerable questions here is left out of the mean)."""
    sources = {}
    for source in ("disflqa", "realdocs"):
        index = [i for i, r in enumerate(rows) if data_set(r["source"]) == source]
        if index:
            sources[source] = (index, [rows[i] for i in index])
    best, best_balanced = 0.0, -1.0
    for cutoff in np.linspace(0.0, 1.0, 201):
        results = {source: figures(sub, probabilities[index] < cutoff) for source, (index, sub) in sources.items()}
        if "disflqa" in results and results["disflqa"]["answered"] < min_answered:
            continue
        balanced = [r["balanced"] for r in results.values() if not math.isnan(r["balanced"])]
        if balanced and float(np.mean(balanced)) > best_balanced:
            best, best_balanced = float(cutoff), float(np.mean(balanced))
    return best


def structured_rows(rows: list[dict[str, Any]]) -> np.ndarray:
    """The questions whose context is mostly table rows and form lines (``DeclineModel.cutoff_structured``)."""
    return np.array([float(r["signals"].get("structured", 0.0) or 0.0) >= STRUCTURED for r in rows], dtype=bool)


def choose_cutoffs(probabilities: np.ndarray, rows: list[dict[str, Any]], min_answered: float) -> tuple[float, float]:
    """One cutoff for contexts of prose and one for contexts of tables and forms, each by ``choose_cutoff`` on
    the questions of its kind."""
    structured = structured_rows(rows)
    prose, tables = np.flatnonzero(~structured), np.flatnonzero(structured)
    return (
        choose_cutoff(probabilities[prose], [rows[i] for i in prose], min_answered),
        choose_cutoff(probabilities[tables], [rows[i] for i in tables], min_answered),
    )


def declines(probabilities: np.ndarray, rows: list[dict[str, Any]], cutoffs: tuple[float, float]) -> np.ndarray:
    return probabilities < np.where(structured_rows(rows), cutoffs[1], cutoffs[0])


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")


def fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    model.fit(x, y, logisticregression__sample_weight=weights)
    return model


def main() -> None:
    from sklearn.model_selection import StratifiedGroupKFold

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--disflqa-data", type=Path, default=None)
    parser.add_argument("--signals", type=Path, default=None, help="keep the signals here, and reuse them if there")
    parser.add_argument("--min-answered", type=float, default=0.87)
    parser.add_argument(
        "--realdocs-weight", type=float, default=0.25, help="the realdocs questions' weight, as a share of Disfl-QA's"
    )
    parser.add_argument(
        "--target",
        choices=("correct", "answerable"),
        default="answerable",
        help="learn an answerable question (default) or a right answer",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="also cross-validate with this many draws of the folds, and summarise"
    )
    parser.add_argument("--write", action="store_true", help=f"write the fitted model to {MODEL_PATH}")
    args = parser.parse_args()
    rows = collect(args.disflqa_data, args.signals)
    x = np.array([[float(r["signals"].get(name, 0.0) or 0.0) for name in FEATURES] for r in rows])
    y = np.array([int(r["answerable"]) for r in rows])
    target = y if args.target == "answerable" else np.array([int(r["answerable"] and r["contains"]) for r in rows])
    sources = np.array([r["source"] for r in rows])
    real = sources != "disflqa"  # the dev and the training questions on the PDFs
    n_disfl, n_real = int((~real).sum()), int((sources == "realdocs").sum())
    weights = np.where(real, args.realdocs_weight * n_disfl / max(int(real.sum()), 1), 1.0)
    strata = np.array([f"{data_set(s)}-{label}" for s, label in zip(sources, y, strict=True)])
    groups = np.array([r.get("group") or f"{r['source']}:{i}" for i, r in enumerate(rows)])

    def cross_validate(seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Each question's out-of-fold probability and decline, with the folds that ``seed`` draws."""
        out_of_fold = np.zeros(len(rows), dtype=bool)
        probability = np.zeros(len(rows))
        folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
        for train, test in folds.split(x, strata, groups):
            model = fit(x[train], target[train], weights[train])
            train_rows = [rows[i] for i in train]
            cutoffs = choose_cutoffs(model.predict_proba(x[train])[:, 1], train_rows, args.min_answered)
            probability[test] = model.predict_proba(x[test])[:, 1]
            out_of_fold[test] = declines(probability[test], [rows[i] for i in test], cutoffs)
        return probability, out_of_fold

    probability, out_of_fold = cross_validate(0)
    report = {}
    for source in ("disflqa", "realdocs", "realdocs_train"):
        index = [i for i, r in enumerate(rows) if r["source"] == source]
        report[source] = figures([rows[i] for i in index], out_of_fold[index])
        never = figures([rows[i] for i in index], np.zeros(len(index), dtype=bool))
        print(f"{source}: cross-validated (5 folds)", {k: round(v, 3) for k, v in report[source].items()})
        print(f"{source}: never declining          ", {k: round(v, 3) for k, v in never.items()})
        print(f"{source}: out-of-fold AUC {auc(probability[index], y[index]):.3f}")
        if source == "realdocs":  # the target holds for tables and prose each
            for kind in ("table", "prose"):
                of_kind = [i for i in index if rows[i]["answerable"] and rows[i]["kind"] == kind]
                right = sum(rows[i]["contains"] and not out_of_fold[i] for i in of_kind) / max(len(of_kind), 1)
                print(f"{source}: cross-validated, {kind} questions with a gold span in the answer {right:.3f}")
    if args.repeats > 1:  # a few questions decide the realdocs figures: how much they move with the folds
        print(f"repeated cross-validation, {args.repeats} draws of the folds: mean (min - max)")
        draws = [out_of_fold] + [cross_validate(seed)[1] for seed in range(1, args.repeats)]  # seed 0: above
        for source in ("disflqa", "realdocs"):
            index = [i for i, r in enumerate(rows) if r["source"] == source]
            runs = [figures([rows[i] for i in index], declined[index]) for declined in draws]
            summary = {
                key: f"{np.mean([r[key] for r in runs]):.3f} ({min(r[key] for r in runs):.2f} - "
                f"{max(r[key] for r in runs):.2f})"
                for key in ("answered", "gold_in_answered", "gold_of_answerable", "declined", "balanced")
            }
            print(f"{source}: {summary}")
    final = fit(x, target, weights)
    scaler, regression = final.named_steps["standardscaler"], final.named_steps["logisticregression"]
    cutoff, cutoff_structured = choose_cutoffs(final.predict_proba(x)[:, 1], rows, args.min_answered)
    for name, coef in sorted(zip(FEATURES, regression.coef_[0], strict=True), key=lambda p: -abs(p[1])):
        print(f"  {name:<24} {coef:+.3f}")
    print(f"cutoff {cutoff:.3f} (prose), {cutoff_structured:.3f} (tables and forms)")
    if args.write:
        d, r = report["disflqa"], report["realdocs"]
        note = (
            f"bench/fit_decline.py (target {args.target}): {n_disfl} Disfl-QA + {n_real} realdocs dev questions; "
            "5-fold cross-validated, grouped by document: "
            f"Disfl-QA answered {d['answered']:.3f}, gold span in {d['gold_in_answered']:.3f} of those, "
            f"unanswerable declined {d['declined']:.3f}, balanced accuracy {d['balanced']:.3f}; realdocs "
            f"declined {r['declined']:.3f} of unanswerable, answered {r['answered']:.3f} of answerable, "
            f"{r['gold_of_answerable']:.3f} of answerable with a gold span; trained also on "
            f"{len(rows) - n_disfl - n_real} questions of bench/data/realdocs-train.jsonl"
        )
        model_json = {
            "features": list(FEATURES),
            "mean": [round(float(v), 6) for v in scaler.mean_],
            "scale": [round(float(v), 6) for v in scaler.scale_],
            "coef": [round(float(v), 6) for v in regression.coef_[0]],
            "intercept": round(float(regression.intercept_[0]), 6),
            "cutoff": round(cutoff, 4),
            "cutoff_structured": round(cutoff_structured, 4),
            "note": note,
        }
        MODEL_PATH.write_text(json.dumps(model_json, indent=1) + "\n")
        print(f"wrote {MODEL_PATH}")


if __name__ == "__main__":
    main()

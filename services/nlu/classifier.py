"""The category classifier: TF-IDF on words and character n-grams, logistic regression.

Trained from what residents write (the shipped examples, `data/examples_*.tsv`, each
with a generic key such as `streetlight`) mapped to the town's own categories through
their keywords (a category whose keywords hold `streetlight` learns those examples;
its other keywords and its names are examples too), plus, later, the town's own
confirmed and corrected reports. Two classes exist in every town: `none` (a greeting,
a question: not a report) and `emergency`.

Why this model (measured on bench/data/nlu_eval.tsv, see bench/nlu.py): a few hundred
short examples, ten classes, messages full of typos. Character n-grams (2 to 5 letters,
inside words) carry the misspellings (`lampadère`, `trotoir`); word unigrams and bigrams
carry the meaning. Logistic regression (C=30) scored a higher top-1 than a linear SVM
calibrated by cross-validation (sigmoid or isotonic: 92-94 % against 94 %), with
probabilities as close to calibrated, without splitting an already small training set
into folds; it trains in a fraction of a second.
"""

from __future__ import annotations

import csv
import io
import pickle
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from services.nlu.text import normalise
from services.texts import fold

if TYPE_CHECKING:  # scikit-learn (with scipy) takes a second to import: only when used
    from sklearn.pipeline import Pipeline

DATA = Path(__file__).parent / "data"
EXAMPLE_FILES = (DATA / "examples_fr.tsv", DATA / "examples_en.tsv")
NONE, EMERGENCY = "none", "emergency"
BUILT_IN = (NONE, EMERGENCY)
# The generic keys of the shipped examples, so a category's keywords can name them.
IDEA_KEY = "idea"
# How much one of the town's own reports weighs against a shipped example.
TOWN_WEIGHT = 2.0
# Little regularisation: measured, its probabilities are the closest to calibrated (of
# 0.5 to 0.7 predicted, 88 % right; above 0.7, 99 %) and its top-1 the best.
C = 30.0
# Words that say nothing of what a message is about, for `knows`.
COMMON = frozenset(
    [
        "les",
        "des",
        "une",
        "est",
        "sur",
        "dans",
        "pour",
        "par",
        "pas",
        "que",
        "qui",
        "avec",
        "the",
        "and",
        "for",
        "are",
        "this",
        "that",
        "with",
        "there",
        "you",
        "les",
        "aux",
        "ces",
        "son",
        "sans",
        "tres",
    ]
)


@dataclass(frozen=True)
class CategoryWords:
    """What the training needs of a category: its code, names, kind and keywords."""

    code: str
    name_fr: str
    name_en: str
    keywords: str = ""
    is_idea: bool = False

    @property
    def keyword_list(self) -> list[str]:
        return [k.strip() for k in self.keywords.replace(";", ",").split(",") if k.strip()]


def read_examples(paths: Iterable[Path] = EXAMPLE_FILES) -> list[tuple[str, str]]:
    """The shipped examples: (text, generic key)."""
    return [(text, key) for text, key, _language in read_examples_with_language(paths)]


def read_examples_with_language(
    paths: Iterable[Path] = EXAMPLE_FILES,
) -> list[tuple[str, str, str]]:
    """The shipped examples: (text, generic key, language), the language from the file's
    name (`examples_fr.tsv`)."""
    rows: list[tuple[str, str, str]] = []
    for path in paths:
        language = path.stem.rpartition("_")[2]
        with open(path, encoding="utf-8", newline="") as handle:
            rows += [(r["text"], r["key"], language)
                     for r in csv.DictReader(handle, delimiter="\t")]  # fmt: skip
    return rows


def shipped_keys() -> set[str]:
    return {key for _, key in read_examples()}


def training_set(
    categories: Sequence[CategoryWords],
    examples: Sequence[tuple[str, str]] | None = None,
    town: Sequence[tuple[str, str]] = (),
) -> tuple[list[str], list[str], list[float]]:
    """(texts, labels, weights): shipped examples mapped to the town's categories through
    their keywords, the categories' own words, and the town's reports (text, code)."""
    examples = read_examples() if examples is None else examples
    keys = {key for _, key in examples}
    owner = key_owners(categories, keys)
    texts, labels, weights = [], [], []
    for text, key in examples:
        if key in owner:
            texts.append(text), labels.append(owner[key]), weights.append(1.0)
    for category in categories:
        own = [category.name_fr, category.name_en]
        own += [k for k in category.keyword_list if fold(k) not in keys]
        for text in own:
            texts.append(text), labels.append(category.code), weights.append(1.0)
    codes = {c.code for c in categories} | set(BUILT_IN)
    for text, code in town:
        if code in codes and text.strip():
            texts.append(text), labels.append(code), weights.append(TOWN_WEIGHT)
    return texts, labels, weights


def key_owners(categories: Sequence[CategoryWords], keys: set[str]) -> dict[str, str]:
    """The town's category that takes each generic key of the shipped examples (through
    its keywords), the built-in classes their own."""
    owner: dict[str, str] = {key: key for key in BUILT_IN}
    for category in categories:
        for keyword in category.keyword_list:
            if fold(keyword) in keys and fold(keyword) not in BUILT_IN:
                owner.setdefault(fold(keyword), category.code)
    ideas = [c for c in categories if c.is_idea]
    if IDEA_KEY not in owner and len(ideas) == 1:
        owner[IDEA_KEY] = ideas[0].code  # a town's one idea category takes the ideas
    return owner


def make_pipeline(c: float = C) -> Pipeline:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                      sublinear_tf=True, min_df=1)),
        ]
    )  # fmt: skip
    classifier = LogisticRegression(C=c, solver="newton-cg", max_iter=1000, class_weight="balanced")
    return Pipeline([("features", features), ("classifier", classifier)])


class Model:
    """A trained classifier: `rank(text)` gives every class with its probability."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.classes: list[str] = [str(c) for c in pipeline.classes_]
        self._scorer = _Scorer.of(pipeline)

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str],
              weights: Sequence[float] | None = None) -> Model:  # fmt: skip
        from threadpoolctl import threadpool_limits

        pipeline = make_pipeline()
        with threadpool_limits(1):  # BLAS threads on a shared CPU: 15 s instead of 0.2 s
            pipeline.fit([normalise(t) for t in texts], list(labels),
                         classifier__sample_weight=list(weights) if weights else None)  # fmt: skip
        return cls(pipeline)

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Every class, likeliest first, with the predicted probability of each."""
        return self.read(text)[0]

    def knows(self, text: str) -> bool:
        """Whether any word of the message (not `de`, `the`...) is one it learnt."""
        return self.read(text)[1]

    def read(self, text: str) -> tuple[list[tuple[str, float]], bool]:
        """The ranking (`rank`) and whether it knows any word of it (`knows`), at once."""
        from scipy import sparse

        said = normalise(text)
        features = self.pipeline.named_steps["features"].transformer_list
        if self._scorer is not None:
            probabilities = self._scorer.probabilities(said)
        else:
            # The pipeline's own predict_proba costs ten times this (joblib, checks).
            vector = sparse.hstack([step.transform([said]) for _, step in features]).tocsr()
            probabilities = self.pipeline.named_steps["classifier"].predict_proba(vector)[0]
        ranked = sorted(zip(self.classes, probabilities, strict=True), key=lambda c: -c[1])
        vocabulary = features[0][1].vocabulary_
        known = any(len(w) >= 3 and w not in COMMON and w in vocabulary for w in said.split())
        return [(code, float(p)) for code, p in ranked], known

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        pickle.dump(self.pipeline, buffer, protocol=pickle.HIGHEST_PROTOCOL)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Model:
        # Only bytes this product wrote into its own database are ever loaded here.
        return cls(pickle.loads(data))


@dataclass(frozen=True)
class _Row:
    """One row as CSR arrays: what inplace_csr_row_normalize_l2 reads of a matrix."""

    data: object
    shape: tuple[int, int]
    indices: object
    indptr: object


class _Scorer:
    """`predict_proba` of the pipeline make_pipeline builds, for one message, without
    scikit-learn's input checks: they cost about 2 ms a message (four fifths of a read,
    on the webhook's path), the arithmetic a tenth of that.

    The same operations on the same arrays, in the same order, as TfidfVectorizer's
    `transform` (counts, sublinear tf, idf, l2 norm), the features' union and
    LogisticRegression's `predict_proba` (a multinomial softmax): the probabilities are
    the same numbers. A pipeline of another shape is read by scikit-learn itself.
    """

    def __init__(self, vectorizers: list, coef_t, intercept) -> None:
        self.steps = [
            (v.build_analyzer(), v.vocabulary_, v.idf_, v.sublinear_tf) for v in vectorizers
        ]
        self.offsets = []
        offset = 0
        for v in vectorizers:
            self.offsets.append(offset)
            offset += len(v.vocabulary_)
        self.width = offset
        self.coef_t = coef_t
        self.intercept = intercept

    @classmethod
    def of(cls, pipeline) -> _Scorer | None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion

        try:
            union = pipeline.named_steps["features"]
            classifier = pipeline.named_steps["classifier"]
        except (AttributeError, KeyError):
            return None
        vectorizers = [step for _, step in getattr(union, "transformer_list", [])]
        if not (
            isinstance(union, FeatureUnion)
            and union.transformer_weights is None
            and isinstance(classifier, LogisticRegression)
            and len(classifier.classes_) > 2
            and vectorizers
            and all(
                type(v) is TfidfVectorizer
                and not v.binary
                and v.use_idf
                and v.norm == "l2"
                and v.dtype is not None
                and hasattr(v, "idf_")
                for v in vectorizers
            )
        ):
            return None
        return cls(vectorizers, classifier.coef_.T, classifier.intercept_)

    def probabilities(self, said: str):
        import numpy as np
        from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

        indices, data = [], []
        for (analyze, vocabulary, idf, sublinear), offset in zip(
            self.steps, self.offsets, strict=True
        ):
            counts: dict[int, int] = {}
            for feature in analyze(said):
                index = vocabulary.get(feature)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            own = np.array(sorted(counts), dtype=np.int32)
            values = np.array([counts[i] for i in own.tolist()], dtype=np.float64)
            if sublinear:
                np.log(values, values)
                values += 1.0
            values *= idf[own]
            # scikit-learn's own l2 normalisation, on the row's arrays (a scipy matrix
            # built for it costs more than the rest of the arithmetic).
            inplace_csr_row_normalize_l2(
                _Row(values, (1, len(vocabulary)), own, np.array([0, len(own)], dtype=np.int32))
            )
            indices.append(own + offset)
            data.append(values)
        weights, features = np.concatenate(data), np.concatenate(indices)
        # The row times the coefficients as scipy's CSR product computes it (csr_matvecs):
        # each feature's coefficients, times its weight, added in turn to a running sum.
        # np.cumsum adds in that order too (np.sum would pair them otherwise), and needs
        # no sparse matrix, whose checks cost more than the arithmetic.
        scores = (
            np.cumsum(weights[:, None] * self.coef_t[features], axis=0)[-1]
            if len(features)
            else np.zeros(self.coef_t.shape[1])
        )
        scores += self.intercept
        # scikit-learn's softmax, on the one row.
        scores -= scores.max()
        np.exp(scores, out=scores)
        scores /= scores.sum()
        return scores

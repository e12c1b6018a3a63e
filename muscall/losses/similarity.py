"""Caption-caption similarity matrices for the weighted contrastive loss: TF-IDF cosine or MiniLM cosine."""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor

from muscall.errors import MuscallError

METHODS = ("auto", "tfidf", "minilm")


class TfidfSimilarity:
    """TF-IDF cosine similarity with the IDF fitted once on a corpus (or on each batch when unfitted)."""

    def __init__(self, corpus: list[str] | None = None):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vectorizer = TfidfVectorizer(lowercase=True, sublinear_tf=True)
        self.fitted = False
        if corpus:
            self.fit(corpus)

    def fit(self, corpus: list[str]) -> TfidfSimilarity:
        """Fit the vocabulary and IDF on ``corpus``; an empty vocabulary leaves it unfitted."""
        try:
            self.vectorizer.fit(list(corpus))
            self.fitted = True
        except ValueError:  # empty vocabulary (no words in any caption)
            self.fitted = False
        return self

    def __call__(self, captions: list[str]) -> Tensor:
        """``(B, B)`` float32 cosine similarities (identity where no caption has a known word)."""
        try:
            matrix = self.vectorizer.transform(captions) if self.fitted else self.vectorizer.fit_transform(captions)
        except ValueError:
            return torch.eye(len(captions))
        sim = (matrix @ matrix.T).toarray()
        np.fill_diagonal(sim, 1.0)
        return torch.from_numpy(np.ascontiguousarray(sim, dtype=np.float32))


@functools.lru_cache(maxsize=1)
def _minilm_encoder():  # -> sentence_transformers.SentenceTransformer
    from muscall.models.minilm import minilm_model_dir, require_minilm

    require_minilm("loss.caption_similarity=minilm")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm_model_dir()), device="cpu", local_files_only=True)


def minilm_embeddings(captions: list[str]) -> Tensor:
    """``(B, 384)`` unit all-MiniLM-L6-v2 sentence embeddings (float32, CPU)."""
    return _minilm_encoder().encode(list(captions), convert_to_tensor=True, normalize_embeddings=True).float().cpu()


def minilm_similarity(captions: list[str]) -> Tensor:
    """``(B, B)`` cosine similarities of all-MiniLM-L6-v2 sentence embeddings (as MusCALL's trainer)."""
    emb = minilm_embeddings(captions)
    return emb @ emb.t()


def similarity_method(method: str) -> str:
    """``tfidf`` or ``minilm``: ``auto`` resolved by whether MiniLM is installed."""
    if method not in METHODS:
        raise MuscallError(f"caption similarity method '{method}': use one of {METHODS}")
    if method == "auto":
        from muscall.models.minilm import minilm_available

        return "minilm" if minilm_available() else "tfidf"
    return method


def caption_similarity(captions: list[str], method: str = "auto", tfidf: TfidfSimilarity | None = None) -> Tensor:
    """``(B, B)`` caption similarity by ``method``: tfidf, minilm, or auto (minilm when installed, else tfidf).

    ``tfidf`` may be a :class:`TfidfSimilarity` fitted on the whole corpus; otherwise IDF comes from the batch.
    """
    if similarity_method(method) == "minilm":
        return minilm_similarity(captions)
    return (tfidf or TfidfSimilarity())(list(captions))

"""Training objectives: symmetric InfoNCE, caption-similarity weights, SimCLR NT-Xent and its head, fact heads."""

from muscall.losses.contrastive import caption_weights, infonce_loss
from muscall.losses.facts import FactHeads, fact_losses
from muscall.losses.similarity import (TfidfSimilarity, caption_similarity, minilm_embeddings, minilm_similarity,
                                      similarity_method)
from muscall.losses.ssl import SSLHead, nt_xent_loss

__all__ = [
    "FactHeads",
    "SSLHead",
    "TfidfSimilarity",
    "caption_similarity",
    "caption_weights",
    "fact_losses",
    "infonce_loss",
    "minilm_embeddings",
    "minilm_similarity",
    "nt_xent_loss",
    "similarity_method",
]

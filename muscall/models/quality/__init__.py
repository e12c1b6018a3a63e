"""Quality and text-alignment scoring networks: DRASP pooling, WhisQ co-attention + Sinkhorn OT, the fact check,
per-axis heads (:class:`~muscall.models.quality.heads.QualityScorer`) and MMMOS ensembling.

Import the submodules directly. Their training losses live in :mod:`muscall.losses.quality`; the jobs that
extract features, train, store and run them live in :mod:`muscall.scoring`.
"""

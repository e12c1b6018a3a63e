"""Quality and text-alignment scoring networks: DRASP pooling, WhisQ co-attention + Sinkhorn OT, the fact check
and the per-axis heads that join them (:class:`~muscall.models.quality.heads.QualityScorer`).

Import the submodules directly. Their training losses live in :mod:`muscall.losses.quality`; the jobs that
extract features, train (and pick the MMMOS top-k ensemble), store and run them live in :mod:`muscall.scoring`.
"""

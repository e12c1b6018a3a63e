"""Quality and text-alignment scoring (WhisQ co-attention + Sinkhorn OT, MMMOS losses/ensembles, DRASP pooling).

Import the submodules directly (``muscall.scoring.heads.QualityScorer``, ``muscall.scoring.config.ScoringConfig``);
this package ``__init__`` stays empty so that ``muscall.scoring.config`` can be imported without torch.
"""

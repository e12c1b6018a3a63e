"""Quality and text-alignment scoring jobs: feature extraction, training, calibration, storage, evaluation, prediction.

The networks they train live in :mod:`muscall.models.quality` (``heads.QualityScorer``), their losses in
:mod:`muscall.losses.quality` and the signal features in :mod:`muscall.audio.signal`. Import the submodules
directly; this package ``__init__`` imports nothing, so importing one job does not load the others.
"""

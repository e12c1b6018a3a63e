"""Evaluation: retrieval and zero-shot metrics, quality-score metrics, and report writers.

Modules (import from them directly; this package imports nothing heavy on its own):

- :mod:`muscall.eval.metrics`: ranks, R@k, MedR, mAP@k, nDCG@k, two-direction retrieval, zero-shot accuracy,
  confusion matrix, multi-label ROC-AUC / PR-AUC.
- :mod:`muscall.eval.multi_caption`: the Song Describer protocol (several captions per track, any relevant).
- :mod:`muscall.eval.quality_metrics`: MSE, LCC, SRCC, KTAU at utterance and system level, bootstrap CIs.
- :mod:`muscall.eval.report`: atomic JSON, Markdown tables and PNG plots (matplotlib Agg backend).
"""

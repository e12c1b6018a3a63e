"""The ``scoring:`` section: the quality / text-alignment scorer's settings, nested into ``Config``.

Only types that :func:`muscall.config.load.from_dict` understands (str, int, float, bool, lists, ``X | None``),
so this section loads from YAML and ``scoring.key=value`` overrides like every other one. The choices below
name what :mod:`muscall.models.quality` and :mod:`muscall.losses.quality` implement; this module imports neither
them nor torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from muscall.errors import MuscallError

POOLINGS = ("drasp", "asp", "mean")  # audio-axis pooling (muscall.models.quality.drasp)
TA_POOLINGS = ("mean", "attentive")  # pooling of each co-attended side (muscall.models.quality.coattention)
LOSS_NAMES = ("l1", "mse", "clipped_mse", "ranking", "utmos", "dcq", "ccc")  # muscall.losses.quality

# MusicEval: MI = overall musical impression/quality, TA = text alignment.
# Audiobox-Aesthetics: PQ production quality, PC production complexity, CE content enjoyment, CU usefulness.
KNOWN_AXES = ("MI", "TA", "PQ", "PC", "CE", "CU")


class ScoringConfigError(MuscallError, ValueError):
    """A scoring setting is wrong; the message names it and the valid choices."""


@dataclass
class ScoringConfig:
    """Quality heads over the dual encoder's audio frames, and the text-alignment co-attention path."""

    axes: list[str] = field(default_factory=lambda: ["MI", "TA"])
    text_axes: list[str] = field(default_factory=lambda: ["TA"])  # axes scored by the co-attention path
    pooling: str = "drasp"  # drasp | asp | mean (audio axes)
    signal_features: bool = True  # audio axes also pool low-level signal features (muscall.audio.signal)
    # the TA co-attention also reads them (chroma, tempo: a prompt's key and tempo). Off: no measured gain yet
    # (BENCHMARKS.md, quality scoring): the head does not learn to match key words to the chroma
    ta_signal_features: bool = False
    # the TA head also reads key, mode and tempo agreement between the signal and the prompt
    # (muscall.models.quality.factcheck; needs signal features). BENCHMARKS.md, quality scoring: TA utterance SRCC 0.806
    # against 0.768 without it in the same run; a wrong key is caught in 74% of clips against 56%
    ta_fact_check: bool = True
    segment_size: int = 4  # DRASP: valid frames per segment
    attention_hidden: int = 128  # additive-attention width in DRASP / ASP
    hidden: int = 256  # MLP head width
    dropout: float = 0.1
    coattn_dim: int = 256  # shared audio-text space of the TA path (also where OT compares frames/tokens)
    coattn_heads: int = 4
    coattn_layers: int = 1
    ta_pooling: str = "mean"  # mean | attentive
    loss: str = "utmos"  # default loss for every axis: l1 | mse | clipped_mse | ranking | utmos | dcq | ccc
    axis_losses: list[str] = field(default_factory=list)  # per-axis overrides, e.g. ["TA=ccc"]
    clip_tau: float = 0.25  # clipped MSE margin (z-scored targets)
    rank_margin: float = 0.2  # ranking-term margin
    rank_weight: float = 0.5  # weight of the ranking term in the utmos loss
    dcq_mse_weight: float = 1.0  # weight of the MSE term in dcq
    ot_weight: float = 0.1  # Sinkhorn OT regulariser weight (0 disables it)
    sinkhorn_eps: float = 0.05
    sinkhorn_iters: int = 50
    normalize_targets: bool = True  # train on z-scored ratings, report on the rating scale

    def loss_for(self, axis: str) -> str:
        """Loss name for ``axis``: its ``axis_losses`` entry, else ``loss``."""
        return dict(_parse_axis_losses(self.axis_losses)).get(axis, self.loss)

    def loss_kwargs(self) -> dict[str, float]:
        """Shared loss hyperparameters, keyed by the loss functions' argument names."""
        return {"tau": self.clip_tau, "margin": self.rank_margin, "rank_weight": self.rank_weight,
                "mse_weight": self.dcq_mse_weight}


def validate_scoring_config(cfg: ScoringConfig, prefix: str = "scoring.") -> list[str]:
    """Cross-field checks beyond types; returns the problems found (empty when valid)."""
    problems = []
    if not cfg.axes:
        problems.append(f"{prefix}axes is empty; list at least one axis, e.g. [MI, TA]")
    if len(set(cfg.axes)) != len(cfg.axes):
        problems.append(f"{prefix}axes has duplicates: {cfg.axes}")
    if cfg.pooling not in POOLINGS:
        problems.append(f"{prefix}pooling='{cfg.pooling}': use one of {', '.join(POOLINGS)}")
    if cfg.ta_pooling not in TA_POOLINGS:
        problems.append(f"{prefix}ta_pooling='{cfg.ta_pooling}': use one of {', '.join(TA_POOLINGS)}")
    if cfg.segment_size < 1:
        problems.append(f"{prefix}segment_size must be >= 1")
    if cfg.coattn_dim % cfg.coattn_heads:
        problems.append(f"{prefix}coattn_dim must be divisible by {prefix}coattn_heads")
    if not 0.0 <= cfg.dropout < 1.0:
        problems.append(f"{prefix}dropout must be in [0, 1)")
    if cfg.ot_weight < 0 or cfg.sinkhorn_eps <= 0 or cfg.sinkhorn_iters < 1:
        problems.append(f"{prefix}ot_weight must be >= 0, sinkhorn_eps > 0 and sinkhorn_iters >= 1")
    try:
        overrides = _parse_axis_losses(cfg.axis_losses)
    except ValueError as err:
        return problems + [f"{prefix}axis_losses: {err}"]
    for axis, name in [("*", cfg.loss), *overrides]:
        if name not in LOSS_NAMES:
            problems.append(f"{prefix}loss '{name}' for axis {axis}: use one of {', '.join(LOSS_NAMES)}")
        elif axis != "*" and axis not in cfg.axes:
            problems.append(f"{prefix}axis_losses names axis '{axis}', which is not in {prefix}axes {cfg.axes}")
    return problems


def _parse_axis_losses(entries: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for entry in entries:
        axis, sep, name = entry.partition("=")
        if not sep or not axis.strip() or not name.strip():
            raise ValueError(f"entry '{entry}' must look like AXIS=loss, e.g. TA=ccc")
        pairs.append((axis.strip(), name.strip()))
    return pairs


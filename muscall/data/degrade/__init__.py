"""Graded versions of corpus clips with pseudo quality (MI) and text-alignment (TA) labels: ``muscall data degrade``."""

from muscall.data.degrade.captions import CaptionVariant, caption_variants, ta_for
from muscall.data.degrade.facts import Facts, Vocabulary
from muscall.data.degrade.generate import DegradeSummary, degrade_corpus, format_summary, select_clips
from muscall.data.degrade.systems import TYPES, System, apply_system, build_systems, default_types, select_rows

__all__ = [
    "TYPES", "CaptionVariant", "DegradeSummary", "Facts", "System", "Vocabulary", "apply_system", "build_systems",
    "caption_variants", "default_types", "degrade_corpus", "format_summary", "select_clips", "select_rows", "ta_for",
]

"""Offline caption corpus generator: procedurally composed multi-track pieces in many styles, performed with
per-clip timing and tempo variation, rendered with fluidsynth through one of several General MIDI soundfonts,
produced through a per-clip mixing chain, and captioned from their attributes (``muscall data synth``)."""

from muscall.data.synth.generate import generate_corpus
from muscall.data.synth.styles import GENRES, STYLES, Style, get_style
from muscall.data.synth.summary import CorpusSummary, format_summary, summarize_corpus

__all__ = ["generate_corpus", "summarize_corpus", "format_summary", "CorpusSummary", "GENRES", "STYLES", "Style",
           "get_style"]

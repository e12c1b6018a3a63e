"""Offline caption corpus generator: procedurally composed multi-track pieces in many styles, rendered
through a General MIDI soundfont with fluidsynth, captioned from their attributes (``muscall data synth``)."""

from muscall.data.synth.generate import generate_corpus
from muscall.data.synth.styles import GENRES, STYLES, Style, get_style
from muscall.data.synth.summary import CorpusSummary, format_summary, summarize_corpus

__all__ = ["generate_corpus", "summarize_corpus", "format_summary", "CorpusSummary", "GENRES", "STYLES", "Style",
           "get_style"]

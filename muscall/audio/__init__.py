"""Deterministic audio front end: decoding (``io``), log-mel features (``features``), windowing (``windows``)
and the feature cache (``cache``).

Import the submodules directly; this ``__init__`` stays empty so that decoding (``muscall.audio.io``) does not
pull in torch, which keeps the command line quick to start.
"""

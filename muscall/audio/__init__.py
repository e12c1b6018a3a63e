"""Deterministic audio front end: decoding (``decode``), log-mel features and the file -> log-mel front end
(``features``), windows and frame/second conversions (``windows``) and the feature cache (``cache``).

Import the submodules directly; this ``__init__`` stays empty so that decoding (``muscall.audio.decode``) does not
pull in torch, which keeps the command line quick to start.
"""

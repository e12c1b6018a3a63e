"""Deterministic audio front end: decoding, log-mel features, windowing and the feature cache."""

from muscall.audio.cache import FeatureCache, build_feature_cache
from muscall.audio.features import LogMel, feature_config_hash, mel_filterbank, num_frames
from muscall.audio.io import AudioInfo, audio_info, load_audio, load_audio_bytes
from muscall.audio.windows import (full_track_windows, pad_to, random_crop, random_frame_crop, window_params,
                                   window_starts)

__all__ = [
    "AudioInfo", "FeatureCache", "LogMel", "audio_info", "build_feature_cache", "feature_config_hash",
    "full_track_windows", "load_audio", "load_audio_bytes", "mel_filterbank", "num_frames", "pad_to",
    "random_crop", "random_frame_crop", "window_params", "window_starts",
]

"""The dual encoder (audio ResNet + text Transformer), its tokenizer and builders."""

from muscall.models.audio_encoder import ResNetAudioEncoder
from muscall.models.factory import build_tokenizer, count_parameters, create_model, list_models
from muscall.models.minilm import MiniLMTextEncoder, minilm_available
from muscall.models.muscall import MusCALL
from muscall.models.text_encoder import TransformerTextEncoder
from muscall.models.tokenizer import CaptionTokenizer, train_tokenizer

__all__ = [
    "CaptionTokenizer",
    "MiniLMTextEncoder",
    "MusCALL",
    "ResNetAudioEncoder",
    "TransformerTextEncoder",
    "build_tokenizer",
    "count_parameters",
    "create_model",
    "list_models",
    "minilm_available",
    "train_tokenizer",
]

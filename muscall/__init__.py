"""muscall: natural-language music search with a MusCALL-style contrastive music-text model."""

from muscall.config import Config, load_config

__version__ = "0.1.0"
__all__ = ["Config", "load_config", "__version__"]

"""Cross-field checks of a config, beyond what the types say; each returns the problems it found."""

from __future__ import annotations

from muscall.config.schema import FACT_HEADS, NOISE_COLORS, AugmentConfig, ChainConfig, Config, FactsLossConfig, TextAugmentConfig
from muscall.config.scoring import validate_scoring_config

MINILM_LAYERS, MINILM_WIDTH = 6, 384  # all-MiniLM-L6-v2


def validate_config(cfg: Config) -> list[str]:
    """Cross-field checks beyond types; returns the problems found (empty when valid)."""
    problems = []
    a = cfg.audio
    nyquist = a.sample_rate / 2
    if a.f_max is not None and a.f_max > nyquist:
        problems.append(f"audio.f_max={a.f_max} is above Nyquist ({nyquist}) for audio.sample_rate={a.sample_rate}")
    if a.f_min >= (a.f_max or nyquist):
        problems.append(f"audio.f_min={a.f_min} must be below f_max")
    if a.hop_length <= 0 or a.n_fft <= 0 or a.n_mels <= 0:
        problems.append("audio.n_fft, audio.hop_length and audio.n_mels must be positive")
    if a.chroma_n_fft < 0 or (a.chroma_n_fft and a.chroma_n_fft < a.n_fft):
        problems.append(f"audio.chroma_n_fft={a.chroma_n_fft}: use 0 (no chroma rows) or an FFT size >= audio.n_fft "
                        "(4096 at 16 kHz resolves semitones from about 100 Hz)")
    if a.clip_seconds <= 0 or a.window_hop_seconds <= 0:
        problems.append("audio.clip_seconds and audio.window_hop_seconds must be positive")
    if a.min_seconds > a.clip_seconds:
        problems.append("audio.min_seconds must not exceed audio.clip_seconds")
    if cfg.model.audio.pooling not in ("attention", "mean"):
        problems.append(f"model.audio.pooling='{cfg.model.audio.pooling}': use attention or mean")
    if cfg.model.text.encoder not in ("transformer", "minilm"):
        problems.append(f"model.text.encoder='{cfg.model.text.encoder}': use transformer or minilm")
    if not 0.0 <= cfg.model.text.bridge_threshold <= 1.0:
        problems.append(f"model.text.bridge_threshold={cfg.model.text.bridge_threshold}: use a cosine in [0, 1] "
                        "(0 turns the vocabulary bridge off)")
    if cfg.model.text.bridge_neighbours < 0:
        problems.append(f"model.text.bridge_neighbours={cfg.model.text.bridge_neighbours}: use a count of training "
                        "captions (0 turns the caption neighbours off)")
    if cfg.model.text.width % cfg.model.text.heads:
        problems.append("model.text.width must be divisible by model.text.heads")
    problems += _minilm_problems(cfg)
    if cfg.loss.caption_similarity not in ("auto", "minilm", "tfidf"):
        problems.append(f"loss.caption_similarity='{cfg.loss.caption_similarity}': use auto, minilm or tfidf")
    if cfg.loss.key_contrast < 0:
        problems.append(f"loss.key_contrast={cfg.loss.key_contrast} must be >= 0 (0 turns the key term off)")
    if not 0.0 <= cfg.loss.ssl_weight < 1.0:
        problems.append("loss.ssl_weight must be in [0, 1)")
    if cfg.loss.ssl and not (cfg.train.batch_size * cfg.loss.ssl_fraction >= 2 and cfg.loss.ssl_fraction <= 1.0):
        problems.append("loss.ssl_fraction must be in (0, 1] and leave at least 2 SSL pairs per batch")
    if cfg.index.embedding_dtype not in ("float16", "float32"):
        problems.append("index.embedding_dtype must be float16 or float32")
    if cfg.data.cache_max_seconds is not None and cfg.data.cache_max_seconds < a.clip_seconds:
        problems.append(f"data.cache_max_seconds={cfg.data.cache_max_seconds} is shorter than one crop "
                        f"(audio.clip_seconds={a.clip_seconds}); raise it or set it to null")
    if cfg.train.batch_size < 2:
        problems.append("train.batch_size must be at least 2 for a contrastive loss")
    return (problems + validate_facts_config(cfg.loss.facts) + validate_augment_config(cfg.augment)
            + validate_text_augment_config(cfg.text_augment) + validate_scoring_config(cfg.scoring))


def validate_facts_config(cfg: FactsLossConfig) -> list[str]:
    """A non-negative weight and known, distinct heads; returns the problems found."""
    problems = []
    if not cfg.weight >= 0.0:
        problems.append(f"loss.facts.weight={cfg.weight} must be >= 0 (0 turns the fact heads off)")
    unknown = [h for h in cfg.heads if h not in FACT_HEADS]
    if unknown or len(set(cfg.heads)) != len(cfg.heads):
        problems.append(f"loss.facts.heads={list(cfg.heads)}: name each head once, from {', '.join(FACT_HEADS)}")
    if cfg.weight > 0 and not cfg.heads:
        problems.append("loss.facts.heads is empty while loss.facts.weight > 0: name heads or set the weight to 0")
    return problems


def validate_text_augment_config(cfg: TextAugmentConfig) -> list[str]:
    """Every probability and the typo rate in [0, 1]; returns the problems found."""
    values = {"p": cfg.p, "p_query": cfg.p_query, "p_drop": cfg.p_drop, "p_shuffle": cfg.p_shuffle,
              "p_synonym": cfg.p_synonym, "p_case": cfg.p_case, "typo_rate": cfg.typo_rate}
    return [f"text_augment.{name}={value} must be in [0, 1]" for name, value in values.items()
            if not 0.0 <= value <= 1.0]


def _minilm_problems(cfg: Config) -> list[str]:
    """The MiniLM text tower's training mode: layers to tune, adaptor depth, cache size, text lr scale."""
    t, problems = cfg.model.text, []
    if not 0 <= t.minilm_trainable_layers <= MINILM_LAYERS:
        problems.append(f"model.text.minilm_trainable_layers={t.minilm_trainable_layers} must be in "
                        f"[0, {MINILM_LAYERS}] (MiniLM has {MINILM_LAYERS} layers)")
    if t.minilm_trainable_layers and not t.freeze:
        problems.append("model.text.minilm_trainable_layers needs model.text.freeze=true (freeze=false already "
                        "trains every MiniLM layer); set one of them")
    if t.minilm_adaptor_layers < 0 or t.minilm_cache_size < 0:
        problems.append("model.text.minilm_adaptor_layers and model.text.minilm_cache_size must be >= 0")
    if t.encoder == "minilm" and t.minilm_adaptor_layers and MINILM_WIDTH % t.heads:
        problems.append(f"the MiniLM adaptor is {MINILM_WIDTH} wide: model.text.heads={t.heads} must divide it "
                        "(e.g. 6 or 12)")
    if not cfg.train.text_lr_scale > 0:
        problems.append(f"train.text_lr_scale={cfg.train.text_lr_scale} must be positive")
    return problems


def validate_augment_config(cfg: AugmentConfig, prefix: str = "augment.") -> list[str]:
    """Probabilities in [0, 1], ``[low, high]`` ranges and mask widths; returns the problems found."""
    problems = []
    probabilities = {"p_gain": cfg.p_gain, "p_noise": cfg.p_noise, "p_pitch_shift": cfg.p_pitch_shift,
                     "time_mask.p": cfg.time_mask.p, "freq_mask.p": cfg.freq_mask.p}
    for name, p in probabilities.items():
        if not 0.0 <= p <= 1.0:
            problems.append(f"augmentation probability {prefix}{name}={p} must be in [0, 1]")
    for name, pair in (("gain_db", cfg.gain_db), ("snr_db", cfg.snr_db)):
        if len(pair) != 2 or pair[0] > pair[1]:
            problems.append(f"{prefix}{name}={pair}: give [low, high] with low <= high")
    for name, mask in (("time_mask", cfg.time_mask), ("freq_mask", cfg.freq_mask)):
        if not 0.0 <= mask.max_fraction <= 1.0 or mask.count < 0:
            problems.append(f"{prefix}{name}: max_fraction must be in [0, 1] and count >= 0")
    if not cfg.noise_colors or any(c not in NOISE_COLORS for c in cfg.noise_colors):
        problems.append(f"{prefix}noise_colors={list(cfg.noise_colors)}: unknown noise colours; choose from "
                        f"{list(NOISE_COLORS)}")
    return problems + _chain_problems(cfg.chain, prefix + "chain.")


def _chain_problems(cfg: ChainConfig, prefix: str) -> list[str]:
    problems = [] if 0.0 <= cfg.p <= 1.0 else [f"augmentation probability {prefix}p={cfg.p} must be in [0, 1]"]
    bounds = {"tilt_db": None, "cutoff": (0.0, 1.0), "noise_db": None, "gain_db": None, "reverb_s": (0.0, None),
              "reverb_wet": (0.0, 1.0)}
    for name, limits in bounds.items():
        pair = getattr(cfg, name)
        if len(pair) != 2 or pair[0] > pair[1]:
            problems.append(f"{prefix}{name}={pair}: give [low, high] with low <= high")
        elif limits and (pair[0] < limits[0] or (limits[1] is not None and pair[1] > limits[1])):
            problems.append(f"{prefix}{name}={pair}: keep both ends within [{limits[0]}, {limits[1] or 'inf'}]")
    if len(cfg.cutoff) == 2 and cfg.cutoff[0] <= 0.0:
        problems.append(f"{prefix}cutoff={cfg.cutoff}: the lowest cutoff must be above 0 (keep some bands)")
    return problems

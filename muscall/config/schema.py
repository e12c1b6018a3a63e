"""The config's typed sections: one dataclass per section, nested into :class:`Config`.

Only types that :func:`muscall.config.load.from_dict` understands (str, int, float, bool, lists, nested
dataclasses, ``X | None``), so every section loads from YAML and ``key.sub=value`` overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from muscall.config.scoring import ScoringConfig

CHROMA_ROWS = 12  # pitch classes C, C#, ..., B
FACT_HEADS = ("key", "mode", "tempo", "instruments", "genre")  # the training-only fact heads (muscall.data.facts)
NOISE_COLORS = ("white", "pink", "brown")  # augment.noise_colors: power spectral density ~ 1 / f**(0, 1, 2)


@dataclass
class AudioConfig:
    """Audio front end: decoding, log-mel and windowing."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 128
    f_min: float = 0.0
    f_max: float | None = 8000.0  # None means Nyquist
    power: float = 2.0
    top_db: float | None = 80.0
    chroma_n_fft: int = 0  # > 0: append 12 chroma rows (pitch-class energy, dB) from an STFT of this size
    clip_seconds: float = 20.0  # training crop and catalog window length
    window_hop_seconds: float = 10.0  # hop between full-track windows (eval, catalog)
    min_seconds: float = 1.0  # shorter files are rejected
    max_seconds: float = 1800.0  # longer files are rejected

    @property
    def feature_rows(self) -> int:
        """Rows of the front end's output: the mel bands, then 12 chroma rows when ``chroma_n_fft > 0``."""
        return self.n_mels + (CHROMA_ROWS if self.chroma_n_fft > 0 else 0)


@dataclass
class AudioEncoderConfig:
    """ResNet-style CNN over log-mels with attention pooling."""

    layers: list[int] = field(default_factory=lambda: [3, 4, 6, 3])  # bottleneck blocks per stage
    base_width: int = 16  # ResNet-50 proper is 64
    pooling: str = "attention"  # attention | mean
    attention_heads: int = 4
    dropout: float = 0.0
    rhythm: bool = False  # a tempo branch: onset-envelope autocorrelation over 40-240 BPM lags
    fact_width: int = 128  # width of the chroma/rhythm branch (used when either is on)


@dataclass
class TextEncoderConfig:
    """Text tower: a small Transformer over a trained tokenizer, or frozen/fine-tuned MiniLM."""

    encoder: str = "transformer"  # transformer | minilm
    width: int = 512
    layers: int = 4
    heads: int = 8
    max_tokens: int = 77
    vocab_size: int = 8000
    dropout: float = 0.1
    freeze: bool = True  # minilm only: keep its weights fixed (false: fine-tune all six layers)
    # minilm only: with freeze, unfreeze the top N of MiniLM's 6 layers (trained at lr * train.text_lr_scale);
    # the frozen lower layers' output is cached per caption
    minilm_trainable_layers: int = 0
    minilm_adaptor_layers: int = 0  # minilm only: trained Transformer layers over MiniLM's token features
    minilm_cache_size: int = 4096  # minilm only: captions whose frozen features are kept (LRU; 0: no cache)
    # transformer only: at inference, a query word the captions never used becomes the known word whose MiniLM
    # vector is closest, if that cosine is >= this (muscall/models/bridge.py; needs the minilm extra); 0: off
    bridge_threshold: float = 0.6
    # transformer only, with the bridge: a query with such words is mixed with the mean embedding of this many
    # training captions MiniLM reads as nearest, by its share of unknown words (muscall/models/bridge.py); 0: off
    bridge_neighbours: int = 20


@dataclass
class ModelConfig:
    """The dual encoder and its joint space."""

    embed_dim: int = 512
    init_temperature: float = 0.07
    max_logit_scale: float = 100.0
    audio: AudioEncoderConfig = field(default_factory=AudioEncoderConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)


@dataclass
class FactsLossConfig:
    """Auxiliary fact classification on both towers' embeddings (training only); weight 0 turns it off."""

    weight: float = 0.0  # total = base + weight * mean fact loss over heads and towers
    heads: list[str] = field(default_factory=lambda: list(FACT_HEADS))
    # one head per fact read by both towers (muscall.losses.FactHeads), so a fact is carried in the same directions
    # of the joint space by audio and text; false: a head per tower
    shared: bool = False


@dataclass
class LossConfig:
    """Contrastive loss, caption-similarity weighting and the SSL audio objective."""

    caption_weighting: bool = False
    caption_weight_temperature: float = 0.01  # MusCALL's k at batch 256; scale with batch size (weights ~ 1/B)
    caption_similarity: str = "auto"  # auto | minilm | tfidf
    ssl: bool = False
    ssl_weight: float = 0.3  # total = (1 - ssl_weight) * contrastive + ssl_weight * ssl
    ssl_temperature: float = 0.5
    ssl_projection_dim: int = 128
    ssl_fraction: float = 1.0  # share of each batch that also gets an augmented view (SSL pairs); <1 saves compute
    facts: FactsLossConfig = field(default_factory=FactsLossConfig)
    # weight of a term where each clip's audio must prefer its drawn caption over the same caption naming another
    # key or mode (muscall.data.caption_augment.other_key; captions that name none take no part); 0: off
    key_contrast: float = 0.0


@dataclass
class TrainConfig:
    """Optimisation, data loading, validation and checkpointing."""

    epochs: int = 200
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 0.1
    warmup_steps: int = 500
    grad_clip: float = 1.0
    accum_steps: int = 1
    amp: bool = True  # used only where the device supports it well (CUDA)
    seed: int = 0
    num_workers: int = 2
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    feature_cache: bool = True
    val_pool_size: int = 1000
    early_stop_patience: int = 10
    # Checkpoint selection and early stopping: r10 (text->audio R@10), mrr (mean reciprocal rank), or auto: mrr
    # when the validation pool has fewer than 500 clips, where R@10 saturates at 1.0 early, else r10.
    val_metric: str = "auto"
    max_minutes: float | None = None  # wall-clock budget for the whole run
    log_every: int = 10
    checkpoint_every: int = 0  # also save checkpoints/last every N steps (0: at epoch ends only)
    text_lr_scale: float = 1.0  # learning-rate multiplier for pretrained text weights (MiniLM layers being tuned)
    compile: bool = False  # torch.compile the audio tower for training (needs a C++ compiler; falls back to eager)


@dataclass
class DataConfig:
    """Where training data lives."""

    manifest: str = "data/corpus/manifest.jsonl"
    cache_dir: str | None = None  # default: <manifest dir>/cache
    caption_field: str = "caption"
    # Train on every caption of a clip (``caption`` plus the row's further ``captions``), one drawn per epoch;
    # false: ``caption`` only. Validation and evaluation use ``caption`` alone (or ``caption_field``).
    all_captions: bool = True
    # Training and validation see at most the first N seconds of each clip (cached or decoded), so one long
    # track does not pad every row of the feature cache to its length; None: whole clips.
    cache_max_seconds: float | None = 60.0


@dataclass
class IndexConfig:
    """FAISS index choice and tuning."""

    factory: str = "auto"  # a FAISS factory string, or auto
    memory_budget_mb: float = 4096.0
    target_recall: float = 0.95
    embedding_dtype: str = "float16"  # float16 | float32 (catalog shards)
    keep_window_embeddings: bool = True


@dataclass
class ServeConfig:
    """HTTP service settings."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    api_key: str | None = None
    max_upload_mb: float = 20.0
    max_query_chars: int = 512
    max_k: int = 200
    query_cache_size: int = 1024
    max_offset: int = 1000  # deepest search page: offset + k results are ranked
    max_clip_seconds: float = 600.0  # uploaded clips (search, tag, score, add) longer than this are refused
    protect_reads: bool = False  # also require the API key for searches and track reads
    threads_per_request: int = 1  # torch / FAISS threads of one request; parallelism comes from concurrent requests
    tag_abstain_below: float | None = None  # /tag: no label when the top probability is below this (per request too)
    search_batch: int = 32  # concurrent text searches answered in one text-tower forward and one FAISS search
    search_batch_wait_ms: float = 2.0  # under load, wait this long for a batch to fill (a lone query never waits)
    # text search: a query that names a key or mode ("in F# minor", "minor key") re-ranks its top candidates by
    # the score plus this times the tracks' chroma agreement with it (muscall.keys); 0 turns it off
    key_weight: float = 0.3


@dataclass
class MaskConfig:
    """One SpecAugment mask: probability, widest span as a fraction of the axis, and spans per example."""

    p: float = 0.5
    max_fraction: float = 0.1
    count: int = 2


@dataclass
class ChainConfig:
    """Random recording chain on the contrastive crops (training only): p = 0 turns it off."""

    p: float = 0.0  # share of crops that go through a random chain
    tilt_db: list[float] = field(default_factory=lambda: [-9.0, 9.0])  # EQ slope: top band minus bottom band, dB
    cutoff: list[float] = field(default_factory=lambda: [0.5, 1.0])  # band limit, as a fraction of the mel bands
    noise_db: list[float] = field(default_factory=lambda: [-70.0, -30.0])  # noise floor below the crop's peak, dB
    gain_db: list[float] = field(default_factory=lambda: [-10.0, 10.0])
    reverb_s: list[float] = field(default_factory=lambda: [0.0, 0.8])  # decay time (-60 dB) of the smear, seconds
    reverb_wet: list[float] = field(default_factory=lambda: [0.0, 0.5])  # smear power relative to the dry frame


@dataclass
class AugmentConfig:
    """Probabilities and ranges of the SSL view's log-mel augmentations (MusCALL-like defaults)."""

    p_gain: float = 0.5
    gain_db: list[float] = field(default_factory=lambda: [-6.0, 6.0])
    p_noise: float = 0.5
    snr_db: list[float] = field(default_factory=lambda: [5.0, 30.0])
    noise_colors: list[str] = field(default_factory=lambda: list(NOISE_COLORS))  # any of NOISE_COLORS
    p_pitch_shift: float = 0.4
    max_semitones: float = 2.0
    time_mask: MaskConfig = field(default_factory=lambda: MaskConfig(max_fraction=0.1))  # spans of frames
    freq_mask: MaskConfig = field(default_factory=lambda: MaskConfig(max_fraction=0.15))  # bands of mel bins
    chain: ChainConfig = field(default_factory=ChainConfig)


@dataclass
class TextAugmentConfig:
    """Caption augmentation while training (``muscall.data.caption_augment``): each draw seeded by (seed, epoch, row)."""

    enabled: bool = False
    p: float = 0.5  # chance a drawn caption is augmented at all
    p_query: float = 0.25  # of those: replaced by a short "mood genre with instrument" query from the row's attributes
    p_drop: float = 0.5  # drop some clauses (at least one stays)
    p_shuffle: float = 0.3  # reorder the clauses
    p_synonym: float = 0.3  # per known word: swap in a synonym from the augmentation lexicon
    p_case: float = 0.2  # lower-case or upper-case the whole caption
    typo_rate: float = 0.02  # per word of 4+ letters: swap two neighbouring letters or drop one
    thesaurus: bool = True  # synonyms: the hand lexicon plus WordNet's (muscall/data/thesaurus.json); false: hand only


@dataclass
class Config:
    """Everything one run needs."""

    name: str = "paper"
    audio: AudioConfig = field(default_factory=AudioConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    text_augment: TextAugmentConfig = field(default_factory=TextAugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)

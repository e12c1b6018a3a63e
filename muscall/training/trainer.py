"""The training recipe: InfoNCE (+ caption weighting, + SimCLR audio SSL, + fact heads on both towers
(``loss.facts``), + a random recording chain on the crops (``augment.chain``)), AdamW, warm-up + cosine, DDP.

``Trainer(cfg, out_dir).fit()`` trains, validates text-to-audio R@10 every epoch on a fixed seeded pool,
keeps ``checkpoints/best`` and ``checkpoints/last``, stops early, and with ``resume=True`` continues exactly
where a killed run stopped (same batches, same RNG, same optimizer state).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from muscall.audio.features import feature_config_hash
from muscall.augment import AugmentPipeline
from muscall.checkpoint import load_checkpoint, save_checkpoint
from muscall.config import Config, ConfigError
from muscall.data.caption_augment import other_key
from muscall.data.manifest import caption_of, captions_of, read_manifest
from muscall.data.mels import MelSource
from muscall.embedding import embed_pairs
from muscall.errors import MuscallError
from muscall.eval.metrics import mean_reciprocal_rank, rank_of_targets, recall_at_k
from muscall.models import create_model
from muscall.models.factory import build_tokenizer
from muscall.training.data import Collate, CropDataset, epoch_order, rank_batches
from muscall.training.objective import (Objective, TrainNet, build_fact_targets, fact_accuracies, fact_classes)
from muscall.training.state import JsonlLog, lr_factor, rng_state, seed_everything, set_rng_state
from muscall.utils import distributed as D
from muscall.utils.accel import amp_dtype, autocast
from muscall.utils.processes import loader_worker_init

SMALL_VAL_POOL = 500  # below this many validation clips R@10 saturates early; select on MRR
log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished run reports."""

    best_r10: float
    best_epoch: int
    epochs_run: int
    steps: int
    clips_per_second: float
    checkpoint: Path


class Trainer:
    """One training run writing into ``out_dir`` (checkpoints/, log.jsonl)."""

    def __init__(self, cfg: Config, out_dir: str | Path, resume: bool = False, progress: bool = True):
        self.cfg, self.out_dir, self.progress = cfg, Path(out_dir), progress
        self.device = D.resolve_device(cfg.train.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)  # before the process group: NCCL binds each rank to its GPU
        self.dist = D.init_distributed(self.device)
        if cfg.train.batch_size % self.dist.world_size:
            raise ConfigError(f"train.batch_size={cfg.train.batch_size} must divide by the {self.dist.world_size} ranks")
        seed_everything(cfg.train.seed)
        self.log = JsonlLog(self.out_dir / "log.jsonl", enabled=self.dist.is_main)
        self._load_data()
        self._build(resume)

    # ---------------------------------------------------------------- set-up
    def _load_data(self) -> None:
        cfg = self.cfg
        manifest = Path(cfg.data.manifest)
        rows = read_manifest(manifest)
        self.train_rows = [r for r in rows if r.split == "train"]
        val_rows = [r for r in rows if r.split == "val"]
        if len(self.train_rows) < cfg.train.batch_size:
            raise MuscallError(f"manifest '{manifest}' has {len(self.train_rows)} training clips, fewer than one batch "
                               f"(train.batch_size={cfg.train.batch_size}); add data or lower the batch size")
        pool = min(cfg.train.val_pool_size, len(val_rows))
        pick = np.sort(np.random.default_rng(cfg.train.seed).choice(len(val_rows), pool, replace=False))
        self.val_rows = [val_rows[i] for i in pick]
        self.val_metric = _val_metric(cfg.train.val_metric, len(self.val_rows))
        if not self.val_rows and self.dist.is_main:
            log.warning("manifest '%s' has no 'val' rows: no validation, every epoch's model counts as the best", manifest)
        self.captions = [caption_of(r, cfg.data.caption_field) for r in self.train_rows]
        use_cache, cache_dir = cfg.train.feature_cache, cfg.data.cache_dir
        for build_here in ((True,) if not self.dist.enabled else (self.dist.is_main, not self.dist.is_main)):
            if build_here:  # under torchrun rank 0 builds the feature caches, the other ranks then open them
                self.train_source = MelSource.build(self.train_rows, manifest, cfg, use_cache,
                                                    _cache(cache_dir, manifest, "train", cfg), self.progress and build_here)
                self.val_source = MelSource.build(self.val_rows, manifest, cfg, use_cache,
                                                  _cache(cache_dir, manifest, "val", cfg), self.progress and build_here)
            D.barrier(self.dist)

    def _build(self, resume: bool) -> None:
        cfg, last = self.cfg, self.out_dir / "checkpoints" / "last"
        state = None
        if resume and (last.exists() or last.with_name("last.old").exists()):
            ckpt = load_checkpoint(last, with_train_state=True)
            self.tokenizer, model, state = ckpt.tokenizer, ckpt.model, ckpt.train_state
            model.train()
        else:
            texts = [c for r in self.train_rows for c in captions_of(r, cfg.data.caption_field, cfg.data.all_captions)]
            self.tokenizer = build_tokenizer(cfg, texts)  # trained on the captions, or MiniLM's own
            model = create_model(cfg, vocab_size=self.tokenizer.vocab_size)
        self.model = model.to(self.device)
        if cfg.train.compile:
            self.model.compile_audio_tower()
        facts = build_fact_targets(cfg, self.train_rows, self.val_rows)  # loss.facts: training-only heads
        self.facts, self.val_facts = facts or (None, None)
        self.net = TrainNet(self.model, cfg, fact_classes(self.facts)).to(self.device)
        self.objective = Objective(cfg, self.captions, self.facts)  # caption weighting: each row's first caption
        self.augment = _augmenter(cfg) if cfg.loss.ssl else None
        self.chain = AugmentPipeline(cfg.audio, cfg.augment).chain if cfg.augment.chain.p > 0 else None
        self.val_fact_acc: dict[str, float] = {}
        if self.dist.enabled and self.device.type == "cuda":  # batch statistics over the global batch
            self.net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.net)
        self.ddp = DistributedDataParallel(self.net) if self.dist.enabled else None
        params = _param_groups([self.net], cfg.train.weight_decay, cfg.train.text_lr_scale)
        self.optimizer = torch.optim.AdamW(params, lr=cfg.train.lr, betas=(0.9, 0.98), eps=1e-6)
        self.batches_per_epoch = len(self.train_rows) // cfg.train.batch_size
        self.total_steps = max(1, cfg.train.epochs * self.batches_per_epoch // cfg.train.accum_steps)
        self.budget_s = None if cfg.train.max_minutes is None else cfg.train.max_minutes * 60.0
        self._epoch_start = time.monotonic()  # the clock of the time budget (reset by each train_epoch)
        self.amp_dtype = amp_dtype(self.device, cfg.train.amp)  # bf16, or fp16 + GradScaler, on CUDA only
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.best_r10, self.best_epoch, self.bad_epochs, self.elapsed = -1.0, -1, 0, 0.0
        if state is not None:
            self._restore(state)
        self.dataset = CropDataset(self.train_source, cfg.train.seed, cfg.data.caption_field, cfg.data.all_captions,
                                   cfg.text_augment)
        self.collate = Collate(self.tokenizer, cfg.model.text.max_tokens)

    # ---------------------------------------------------------------- loop
    def fit(self) -> TrainResult:
        """Train until the epochs, the time budget or early stopping end the run."""
        cfg, start = self.cfg, time.monotonic()
        budget = self.budget_s
        clips, t0, stop = 0, time.monotonic(), False
        epoch = self.epoch
        if budget is not None and self.elapsed >= budget:
            log.warning("this run already used its train.max_minutes=%s; raise it to train on", cfg.train.max_minutes)
            stop = True
        while epoch < cfg.train.epochs and not stop:
            clips_epoch, stop = self.train_epoch(epoch, start, budget)
            clips += clips_epoch
            r10, val = self.validate()
            improved = val > self.best_r10 or not self.val_rows
            if improved:
                self.best_r10, self.best_epoch, self.bad_epochs = val, epoch, 0
            else:
                self.bad_epochs += 1
            if not stop:  # a run stopped by its time budget resumes inside this epoch
                self.epoch, self.step_in_epoch = epoch + 1, 0
            self.elapsed += time.monotonic() - start
            start = time.monotonic()
            self.log.write(kind="epoch", epoch=epoch, val_r10=r10, val_metric=self.val_metric, val_score=val,
                           best_score=self.best_r10, step=self.global_step, elapsed_s=self.elapsed,
                           **self.val_fact_acc)
            self._save("last")
            if improved:
                self._save("best")
            if self.dist.is_main:
                log.info("epoch %d: val text->audio R@10 %.3f, %s %.3f (best %.3f at epoch %d)", epoch, r10,
                         self.val_metric, val, self.best_r10, self.best_epoch)
            if self.bad_epochs >= cfg.train.early_stop_patience:
                log.info("early stop: no improvement for %d epochs", self.bad_epochs)
                stop = True
            epoch += 1
        D.barrier(self.dist)
        rate = clips / max(time.monotonic() - t0, 1e-9)
        return TrainResult(self.best_r10, self.best_epoch, self.epoch, self.global_step, rate,
                           self.out_dir / "checkpoints" / "best")

    def train_epoch(self, epoch: int, start: float, budget: float | None = None,
                    max_batches: int | None = None) -> tuple[int, bool]:
        """One pass over this epoch's batches (from ``step_in_epoch``); returns (clips seen, out of time)."""
        cfg = self.cfg
        self.dataset.set_epoch(epoch)
        batches = rank_batches(epoch_order(len(self.dataset), cfg.train.seed, epoch), cfg.train.batch_size,
                               self.dist.rank, self.dist.world_size)[:max_batches]
        loader = DataLoader(self.dataset, batch_sampler=batches[self.step_in_epoch:], collate_fn=self.collate,
                            num_workers=cfg.train.num_workers, pin_memory=self.device.type == "cuda",
                            worker_init_fn=loader_worker_init(),
                            generator=torch.Generator().manual_seed(cfg.train.seed + epoch))
        net = self.ddp or self.net
        net.train()
        clips, tic = 0, time.monotonic()
        self._epoch_start = start
        bar = tqdm(total=len(batches), initial=self.step_in_epoch, desc=f"epoch {epoch}", unit="batch",
                   disable=not (self.progress and self.dist.is_main), dynamic_ncols=True)
        for batch in loader:
            losses = self._step(net, batch)
            self.step_in_epoch += 1
            clips += len(batch.index) * self.dist.world_size
            rate = clips / max(time.monotonic() - tic, 1e-9)
            bar.set_postfix(loss=f"{losses['loss']:.3f}", clips_s=f"{rate:.1f}")
            bar.update(1)
            if self.global_step % cfg.train.log_every == 0:
                self.log.write(kind="step", epoch=epoch, step=self.global_step, lr=self.optimizer.param_groups[0]["lr"],
                               clips_per_s=rate, **losses)
            if cfg.train.checkpoint_every and self.step_in_epoch % cfg.train.checkpoint_every == 0:
                self._save("last", self.elapsed + time.monotonic() - start)
            if budget is not None and self.elapsed + time.monotonic() - start > budget:
                log.info("time budget of %.1f min reached", cfg.train.max_minutes)
                bar.close()
                return clips, True
        bar.close()
        return clips, False

    def _step(self, net, batch) -> dict[str, float]:
        cfg = self.cfg
        mel, tokens, mask = (t.to(self.device, non_blocking=True) for t in (batch.mel, batch.tokens, batch.mask))
        gen = torch.Generator().manual_seed(hash((cfg.train.seed, self.epoch, self.step_in_epoch)) % (2**63))
        # augmentations run in float32, outside autocast: the chain works on linear power, which fp16 overflows
        if self.chain is not None:  # a random recording chain on the contrastive crops (augment.chain)
            mel = self.chain(mel, gen)
        view = None
        if self.augment is not None:  # the first ssl_fraction of the (shuffled) batch gets an augmented view
            n_ssl = max(2, int(round(mel.shape[0] * cfg.loss.ssl_fraction)))
            view = self.augment(mel[:n_ssl], gen)
        with autocast(self.device, self.amp_dtype is not None):
            losses = self.objective(net(mel, tokens, mask, view, self._other_keys(batch.captions)), batch.index,
                                    self.dist, batch.captions)
        loss = losses["loss"] / cfg.train.accum_steps
        self.scaler.scale(loss).backward()
        if (self.step_in_epoch + 1) % cfg.train.accum_steps == 0:
            self._set_lr()
            self.scaler.unscale_(self.optimizer)
            if cfg.train.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.train.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            self.global_step += 1
        self.model.clamp_logit_scale_()
        return {k: float(v.detach()) for k, v in losses.items()}

    def _other_keys(self, captions: list[str]) -> tuple | None:
        """(rows, tokens, mask) of the batch's captions that name a key, made to name another one (seeded by the
        step, so a resumed run draws the same); None when the key term is off or no caption names a key."""
        if self.cfg.loss.key_contrast <= 0:
            return None
        rng = np.random.default_rng([self.cfg.train.seed, self.epoch, self.step_in_epoch, 0x4B])
        swapped = [other_key(c, rng) for c in captions]
        rows = [i for i, c in enumerate(swapped) if c is not None]
        if not rows:
            return None
        tokens, mask = self.tokenizer.encode_batch([swapped[i] for i in rows], self.cfg.model.text.max_tokens)
        return torch.tensor(rows, device=self.device), tokens.to(self.device), mask.to(self.device)

    def _set_lr(self) -> None:
        """Warm-up, then cosine decay over the steps of all epochs, or over the time budget if that ends first."""
        progress = self.global_step / self.total_steps
        if self.budget_s is not None:  # a timed run anneals by the clock (not bit-reproducible on resume)
            progress = max(progress, (self.elapsed + time.monotonic() - self._epoch_start) / self.budget_s)
        factor = lr_factor(self.global_step, self.cfg.train.warmup_steps, progress)
        for group in self.optimizer.param_groups:
            group["lr"] = self.cfg.train.lr * factor * group.get("lr_scale", 1.0)

    # ---------------------------------------------------------------- validation and state
    @torch.no_grad()
    def validate(self) -> tuple[float, float]:
        """Text-to-audio R@10 and the selection metric on the fixed validation pool (full-track windows, diagonal
        relevance)."""
        if not self.val_rows:
            return 0.0, 0.0
        self.model.eval()
        cfg = self.cfg
        audio, text = embed_pairs(self.model, self.tokenizer, (self.val_source[i] for i in range(len(self.val_source))),
                                  self.val_rows, cfg.audio, cfg.model.text.max_tokens, cfg.data.caption_field,
                                  device=self.device)
        ranks = rank_of_targets(text @ audio.T, np.arange(len(text)))
        if self.val_facts is not None:  # the fact heads on the validation pool's tracks and captions
            self.val_fact_acc = fact_accuracies(self.net.fact_heads, self.val_facts, audio, text,
                                                [caption_of(r, cfg.data.caption_field) for r in self.val_rows])
        self.model.train()
        r10 = float(recall_at_k(ranks, 10))
        return r10, (mean_reciprocal_rank(ranks) if self.val_metric == "mrr" else r10)

    def _save(self, name: str, elapsed: float | None = None) -> None:
        if not self.dist.is_main:
            return
        state = {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
                 "best_r10": self.best_r10, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                 "elapsed": self.elapsed if elapsed is None else elapsed, "optimizer": self.optimizer.state_dict(),
                 "scaler": self.scaler.state_dict(),
                 "net": self.net.state_dict(), "rng": rng_state()}
        save_checkpoint(self.out_dir / "checkpoints" / name, self.model, self.cfg, self.tokenizer, state)

    def _restore(self, state: dict) -> None:
        for key in ("epoch", "step_in_epoch", "global_step", "best_r10", "best_epoch", "bad_epochs", "elapsed"):
            setattr(self, key, state[key])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.net.load_state_dict(state["net"])
        set_rng_state(state["rng"])
        log.info("resumed at epoch %d step %d", self.epoch, self.step_in_epoch)


def _param_groups(modules: list[torch.nn.Module], weight_decay: float, text_lr_scale: float = 1.0) -> list[dict]:
    """No weight decay on biases, norms, embeddings and the temperature; pretrained text weights (a MiniLM
    backbone being tuned) learn at ``lr * text_lr_scale`` (their groups only exist when there are such weights)."""
    groups: dict[tuple[bool, bool], list] = {(d, t): [] for d in (True, False) for t in (False, True)}
    for module in modules:
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            decay = not (p.ndim < 2 or "embed" in name or "logit_scale" in name)
            groups[decay, "text_encoder.backbone." in name].append(p)
    return [{"params": params, "weight_decay": weight_decay if decay else 0.0,
             "lr_scale": text_lr_scale if pretrained else 1.0}
            for (decay, pretrained), params in groups.items() if params or not pretrained]


def _augmenter(cfg: Config):
    """One augmented view of a log-mel batch (gain, coloured noise, pitch shift, masks; all in the mel domain)."""
    pipeline = AugmentPipeline(cfg.audio, cfg.augment)
    return lambda mel, gen: pipeline.mel(mel, gen, level_and_noise=True)


def _cache(cache_dir: str | None, manifest: Path, split: str, cfg: Config) -> Path:
    """``<cache_dir>/<split>-<front-end hash>``: runs with other audio settings keep their own caches."""
    return Path(cache_dir or manifest.parent / "cache") / f"{split}-{feature_config_hash(cfg.audio)}"


def _val_metric(name: str, pool: int) -> str:
    """The checkpoint-selection metric: ``name``, with ``auto`` resolved by the validation pool size."""
    if name not in ("auto", "r10", "mrr"):
        raise ConfigError(f"train.val_metric={name!r}: use auto, r10 or mrr")
    if name == "auto":
        return "mrr" if pool < SMALL_VAL_POOL else "r10"
    return name

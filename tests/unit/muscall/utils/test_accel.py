"""Accelerator rules: AMP only on CUDA (the CPU path stays bit-identical float32), FAISS's GPU number, torch's
thread count for a block."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from muscall.audio.windows import crop_frames
from muscall.config import load_config
from muscall.embedding import embed_mels, embed_texts
from muscall.models import create_model
from muscall.models.tokenizer import train_tokenizer
from muscall.utils.accel import amp_dtype, autocast, faiss_gpu, torch_threads


@pytest.mark.parametrize("bf16, expected", [(True, torch.bfloat16), (False, torch.float16)])
def test_cuda_gets_bf16_where_native_else_fp16(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: bf16 and not
                        including_emulation)  # emulated bf16 (pre-Ampere) is slow: such GPUs get fp16
    assert amp_dtype("cuda") == expected and amp_dtype("cuda:1") == expected
    assert amp_dtype("cuda", enabled=False) is None


def test_cpu_never_autocasts():
    assert amp_dtype("cpu") is None
    with autocast("cpu"):
        assert not torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_faiss_gets_the_cuda_device_number_and_nothing_for_the_cpu():
    assert faiss_gpu("cpu") is None and faiss_gpu(torch.device("cpu")) is None
    assert faiss_gpu("cuda:1") == 1 and faiss_gpu(torch.device("cuda", 0)) == 0


@pytest.fixture(scope="module")
def tiny():
    cfg = load_config("tiny")
    tokenizer = train_tokenizer(["calm piano music", "loud rock drums"], cfg.model.text.vocab_size)
    torch.manual_seed(0)
    return cfg, create_model(cfg, vocab_size=tokenizer.vocab_size).eval(), tokenizer


def test_cpu_embeddings_are_bit_identical_to_the_float32_towers(tiny):
    cfg, model, tokenizer = tiny
    rows = model.audio_encoder.rows  # mel bands (+ chroma rows)
    mel = np.random.default_rng(0).standard_normal((rows, crop_frames(cfg.audio))).astype(np.float32)
    texts = ["calm piano music", "loud rock drums"]
    with torch.no_grad():
        window = model.encode_audio(torch.from_numpy(mel[None]), normalize=True).numpy()
        tokens, mask = tokenizer.encode_batch(texts, cfg.model.text.max_tokens)
        text = model.encode_text(tokens, mask, normalize=True).numpy()
    emb = embed_mels(model, [mel], cfg.audio, device="cpu")
    assert emb.windows[0].dtype == np.float32 and emb.tracks.dtype == np.float32
    np.testing.assert_array_equal(emb.windows[0], window)
    np.testing.assert_array_equal(embed_texts(model, tokenizer, texts, cfg.model.text.max_tokens), text)


def test_torch_threads_restores_the_count_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), torch_threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(None):  # None leaves the count as it is
        assert torch.get_num_threads() == before

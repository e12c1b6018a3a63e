"""Grouped (hard-negative) batch orders, caption clusters and sampling among a clip's captions."""

from __future__ import annotations

import numpy as np
from muscall.config import load_config, validate_config
from muscall.data.manifest import ClipRow
from muscall.training.data import CropDataset, caption_clusters, captions_of, grouped_order, rank_batches


def test_grouped_order_is_a_permutation_whose_batches_hold_whole_cluster_chunks():
    clusters = np.repeat(np.arange(6), [40, 33, 20, 17, 50, 8])
    order = grouped_order(clusters, batch_size=16, groups=4, seed=0, epoch=3)
    assert sorted(order.tolist()) == list(range(len(clusters)))
    n_chunks = sum(n // 4 for n in (40, 33, 20, 17, 50, 8))
    for start in range(0, n_chunks * 4, 4):  # every chunk of 4 comes from one cluster
        assert len(set(clusters[order[start:start + 4]].tolist())) == 1
    batches = rank_batches(order, 16, 0, 1)
    assert max(len(set(clusters[b].tolist())) for b in batches) <= 4


def test_grouped_order_is_seeded_and_changes_between_epochs():
    clusters = np.arange(200) % 7
    a, b = grouped_order(clusters, 8, 2, 0, 1), grouped_order(clusters, 8, 2, 0, 1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, grouped_order(clusters, 8, 2, 0, 2))


def test_caption_clusters_separate_distinct_vocabularies_and_ignore_template_words():
    styles = ["calm piano ballad", "loud metal guitar", "swinging jazz trumpet", "dark techno synth",
              "sunny reggae organ", "gentle string quartet"]
    templates = ["a {} track with a nice feel", "this is {} music", "{}, the mood is great"]  # shared by all
    texts = [t.format(s) for s in styles for t in templates for _ in range(3)]
    labels = caption_clusters(texts, len(styles), seed=0).reshape(len(styles), -1)
    assert all(len(set(row.tolist())) == 1 for row in labels)
    assert len(set(labels[:, 0].tolist())) == len(styles)


def test_batch_clusters_must_divide_the_batch():
    problems = validate_config(load_config("tiny", ["train.batch_size=8", "train.batch_clusters=3"]))
    assert any("train.batch_clusters=3" in p and "divide" in p for p in problems)
    assert validate_config(load_config("tiny", ["train.batch_size=8", "train.batch_clusters=4"])) == []


def test_training_draws_each_clip_caption_and_evaluation_keeps_the_first():
    row = ClipRow(id="a", audio_path="a.wav", caption="first", captions=["second", "third"])
    assert captions_of(row) == ["first", "second", "third"]
    assert captions_of(row, every=False) == ["first"]

    class Source:  # one 10-frame clip
        rows, audio = [row], load_config("tiny").audio

        def __len__(self):
            return 1

        def __getitem__(self, i):
            return np.zeros((4, 400), dtype=np.float32)

    data = CropDataset(Source(), seed=0)
    seen = set()
    for epoch in range(30):
        data.set_epoch(epoch)
        seen.add(data[0][1])
        assert data[0][1] == data[0][1]  # the same draw for the same (seed, epoch, index)
    assert seen == {"first", "second", "third"}
    assert CropDataset(Source(), seed=0, all_captions=False)[0][1] == "first"

"""Zero-shot classifier: prompt ensembling averages normalised prompt embeddings; label files load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from muscall.errors import MuscallError
from muscall.eval.runner import attribute_relevance
from muscall.data.manifest import ClipRow
from muscall.zeroshot import build_classifier, load_label_sets, softmax, templates_for


class FakeTokenizer:
    def encode_batch(self, texts, max_tokens):
        ids = torch.tensor([[len(t), sum(map(ord, t)) % 97] for t in texts])
        return ids, torch.ones_like(ids, dtype=torch.bool)

    encode_queries = encode_batch  # no vocabulary bridge


class FakeModel:
    embed_dim = 3

    def encode_text(self, tokens, mask, normalize=True):
        x = torch.stack([tokens[:, 0].float(), tokens[:, 1].float(), torch.ones(len(tokens))], 1)
        return torch.nn.functional.normalize(x, dim=-1) if normalize else x


def test_classifier_is_the_renormalised_mean_of_prompt_embeddings():
    templates = ["{} music", "a {} song"]
    w = build_classifier(FakeModel(), FakeTokenizer(), ["jazz", "rock"], templates, 8)
    assert w.shape == (2, 3)
    prompts = FakeModel().encode_text(*FakeTokenizer().encode_batch(["jazz music", "a jazz song"], 8)).numpy()
    expected = prompts.mean(0) / np.linalg.norm(prompts.mean(0))
    np.testing.assert_allclose(w[0], expected, rtol=1e-6)


def test_templates_ensemble_switch_and_bad_template():
    assert len(templates_for("genres", ensemble=True)) > 1
    assert templates_for("genres", ensemble=False) == templates_for("genres")[:1]
    with pytest.raises(MuscallError, match="placeholder"):
        templates_for("genres", custom=["no placeholder"])


def test_label_sets_from_json_and_text(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps({"format_version": 1, "genres": ["jazz", "rock"]}))
    assert load_label_sets(tmp_path / "labels.json") == {"genres": ["jazz", "rock"]}
    (tmp_path / "moods.txt").write_text("calm\n\nhappy\n")
    assert load_label_sets(tmp_path / "moods.txt") == {"moods": ["calm", "happy"]}
    with pytest.raises(MuscallError, match="does not exist"):
        load_label_sets(tmp_path / "missing.json")


def test_softmax_rows_sum_to_one():
    p = softmax(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), temperature=0.5)
    np.testing.assert_allclose(p.sum(1), 1.0)
    assert p[0].argmax() == 2 and np.allclose(p[1], 1 / 3)


def test_attribute_relevance_matches_genre_and_lead():
    def row(i, genre, lead):
        return ClipRow(id=str(i), audio_path="x", caption="c",
                       attributes={"genre": genre, "instruments": [{"role": "lead", "name": lead}]})
    rel = attribute_relevance([row(0, "jazz", "sax"), row(1, "jazz", "sax"), row(2, "jazz", "piano"),
                               row(3, "rock", "sax")])
    assert rel.tolist()[0] == [True, True, False, False]
    assert rel.diagonal().all()

"""Vocabulary bridge: a query word the text tower never saw in training becomes the nearest word it did.

A text tower trained from scratch knows only its captions' words; an unseen word ("somber", "bull fiddle") splits
into sub-word pieces that carry nothing it learned, so the query loses that fact. The bridge keeps the known words
of the training captions (and of caption augmentation) with their all-MiniLM-L6-v2 vectors; at query time each
unknown word whose nearest known word has cosine >= ``threshold`` is replaced by it before tokenising. Known words,
words with a digit, short words, English glue words and hyphenated words whose parts are all known are left as they
are (each word the bridge does map costs one MiniLM pass the first time, about 5 ms on a CPU), and
no word is mapped onto a structural word (in more than ``max_df`` of 50 or more captions, such as "with" or "key").

The threshold (0.6 by default) was chosen on the caption augmentation's lexicon ("pianoforte" -> piano,
"menacing" -> ominous...), never on the shift benchmark's held-out words. Word vectors out of context confuse
antonyms ("noisy" sits close to "quiet"), which is why the bar is high and the tower's own words always win.

Only inference rewrites (:meth:`CaptionTokenizer.encode_queries`); training encodes its captions untouched.

A word-by-word map cannot read a new sentence shape or a phrase ("in the pocket"), so the bridge also keeps up to
10,000 training captions with their MiniLM sentence vectors. A query with words the tower never saw borrows from
the ``neighbours`` (20) captions MiniLM reads as closest to it: :func:`muscall.embedding.embed_texts` mixes the
query's own embedding with the mean of theirs, in proportion to the query's share of unknown content words (a
query in the tower's own words is left exactly as it was).
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np

from index.fileio import atomic_write_bytes
from muscall.errors import MuscallError

log = logging.getLogger(__name__)

BRIDGE_FILE = "vocabulary_bridge.npz"
DEFAULT_THRESHOLD = 0.6
WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*", re.IGNORECASE)  # "don't" and a phone's "don’t" alike
GLUE = frozenset("""a an the and or but nor so yet of in on at to for from by with without into onto over under
about above below after before during while as than then that this these those there here it its it's is are was
were be been being am do does did done has have had having i me my we our you your he she him her they them their
what which who whom whose when where why how all any some each every both either neither no not only very too
just also more most less least much many few lot lots bit little one ones can could should would will shall may
might must let lets let's like please want need give find show play get make something anything everything
don't doesn't didn't isn't aren't wasn't won't can't couldn't shouldn't wouldn't i'm i'd i'll i've you're that's
someone somebody thing things kind sort type maybe perhaps really quite rather""".split())
MEMO_SIZE = 10_000
MIN_CAPTIONS_FOR_DF = 50  # below this, a word's caption share says nothing about it being structural
DEFAULT_NEIGHBOURS = 20
MAX_NEIGHBOUR_CAPTIONS = 10_000  # a seeded sample of a larger caption set (7.7 MB of half-float vectors at most)


class VocabularyBridge:
    """Known words (``known``), the mapping targets with their unit MiniLM vectors, and the cosine threshold; the
    kept training ``captions`` with their unit MiniLM vectors, and how many a query borrows from (``neighbours``)."""

    def __init__(self, known: Iterable[str], targets: list[str], vectors: np.ndarray, threshold: float,
                 captions: Iterable[str] = (), caption_vectors: np.ndarray | None = None, neighbours: int = 0):
        captions = list(captions)
        caption_vectors = np.zeros((0, 384), np.float32) if caption_vectors is None else caption_vectors
        if len(targets) != len(vectors) or len(captions) != len(caption_vectors):
            raise MuscallError(f"vocabulary bridge: {len(targets)} words but {len(vectors)} vectors, {len(captions)} "
                               f"captions but {len(caption_vectors)} vectors; rebuild it")
        self.known = frozenset(w.lower() for w in known)
        self.targets, self.vectors, self.threshold = list(targets), np.asarray(vectors, np.float32), float(threshold)
        self.captions, self.caption_vectors = captions, np.asarray(caption_vectors, np.float32)
        self.neighbours = int(neighbours) if captions else 0
        self._memo: dict[str, str] = {}
        self._caption_embeddings: tuple[tuple, np.ndarray] | None = None  # ((model, version), embeddings)

    def rewrite(self, text: str) -> str:
        """``text`` with each unknown word that has a close enough known word replaced by it."""
        return WORD.sub(lambda m: self.word(m.group(0)), text)

    def rewrite_batch(self, texts: list[str]) -> list[str]:
        """:meth:`rewrite` of every text; unknown words are embedded together, once each."""
        self.learn(texts)
        return [self.rewrite(t) for t in texts]

    def learn(self, texts: list[str]) -> None:
        """Look up the unknown words of ``texts`` not looked up yet, together in one MiniLM pass."""
        fresh = sorted({w.lower() for t in texts for w in WORD.findall(t)
                        if self._mappable(w.lower()) and w.lower() not in self._memo})
        if fresh:
            self._learn(fresh)

    def word(self, word: str) -> str:
        """The known word ``word`` stands for (itself when known, unmappable or without a close match)."""
        lower = word.lower()
        if not self._mappable(lower):
            return word
        known = self._memo.get(lower)  # another thread may clear the memo at any time
        return known if known is not None else self._learn([lower])[lower]

    def reading(self, text: str) -> tuple[dict[str, str], list[str], float]:
        """What the bridge does to ``text``, for telling a user how a query was read: each unknown word it maps and
        the known word it becomes, the unknown words it leaves as they are (no known word close enough; the tower
        reads their sub-word pieces), and the share of the embedding taken from the nearest training captions."""
        mapped: dict[str, str] = {}
        kept: list[str] = []
        for lower in dict.fromkeys(w.lower() for w in WORD.findall(text)):
            if self._mappable(lower):
                known = self.word(lower)
                if known.lower() == lower:
                    kept.append(lower)
                else:
                    mapped[lower] = known
        return mapped, kept, self.unknown_share(text) if self.neighbours else 0.0

    def unknown_share(self, text: str) -> float:
        """The share of ``text``'s content words (not glue, not short, no digit) that the bridge would look up."""
        content = [w for w in (w.lower() for w in WORD.findall(text)) if _content(w)]
        return sum(self._mappable(w) for w in content) / len(content) if content else 0.0

    def nearest_captions(self, texts: list[str]) -> list[tuple[float, list[int]]]:
        """Per text: its :meth:`unknown_share` and the rows of :attr:`captions` of the ``neighbours`` training
        captions MiniLM reads as closest to it (none when the share is 0 or the bridge keeps no captions)."""
        shares = [self.unknown_share(t) for t in texts]
        out: list[tuple[float, list[int]]] = [(share, []) for share in shares]
        todo = [i for i, share in enumerate(shares) if share > 0] if self.neighbours else []
        if todo:
            from muscall.models.minilm import sentence_vectors  # lazy: an optional dependency

            sims = sentence_vectors([texts[i] for i in todo]) @ self.caption_vectors.T
            k = min(self.neighbours, len(self.captions))
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            for row, i in enumerate(todo):
                out[i] = (shares[i], sorted(int(j) for j in top[row]))
        return out

    def caption_embeddings(self, model, embed) -> np.ndarray:
        """The tower's embeddings of :attr:`captions` (``embed(captions)``), computed once per model state: kept
        until ``model``'s text projection changes (a training step bumps its version) or another model asks."""
        weight = model.text_projection.weight
        key = (id(model), weight._version)
        if self._caption_embeddings is None or self._caption_embeddings[0] != key:
            self._caption_embeddings = (key, embed(self.captions))
        return self._caption_embeddings[1]

    def prime(self) -> None:
        """Load the MiniLM word encoder now (about 2 s), so the first unknown word costs no more than the next."""
        from muscall.models.minilm import sentence_vectors  # lazy: an optional dependency

        sentence_vectors(["music"])

    def _mappable(self, lower: str) -> bool:
        if lower in self.known or not _content(lower) or not self.targets:
            return False
        parts = re.split(r"['’-]", lower)
        return not (len(parts) > 1 and all(p in self.known or p.isdigit() for p in parts))

    def _learn(self, words: list[str]) -> dict[str, str]:
        from muscall.models.minilm import sentence_vectors  # lazy: an optional dependency

        sims = sentence_vectors(words) @ self.vectors.T
        learned = {}
        for word, row in zip(words, sims):
            best = int(row.argmax())
            learned[word] = self.targets[best] if row[best] >= self.threshold else word
        if len(self._memo) + len(words) > MEMO_SIZE:
            self._memo.clear()
        self._memo.update(learned)
        return learned

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/vocabulary_bridge.npz`` atomically."""
        import io

        buf = io.BytesIO()
        np.savez(buf, known=np.array(sorted(self.known)), targets=np.array(self.targets),
                 vectors=self.vectors.astype(np.float16), threshold=np.array(self.threshold),
                 captions=np.frombuffer(json.dumps(self.captions).encode(), np.uint8),  # UTF-8, not fixed-width
                 caption_vectors=self.caption_vectors.astype(np.float16),
                 neighbours=np.array(self.neighbours))
        path = Path(directory) / BRIDGE_FILE
        atomic_write_bytes(path, buf.getvalue())
        return path

    @classmethod
    def load(cls, directory: str | Path) -> VocabularyBridge | None:
        """The bridge saved in ``directory``, or None when there is none (or MiniLM is not installed: logged)."""
        from muscall.models.minilm import INSTALL_HINT, minilm_available  # lazy: an optional dependency

        path = Path(directory) / BRIDGE_FILE
        if not path.is_file():
            return None
        if not minilm_available():
            log.warning("%s is not used: the vocabulary bridge needs the optional MiniLM package, so queries with "
                        "words this model never saw are read as they are; %s", path, INSTALL_HINT)
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                with_captions = "captions" in z.files  # bridges saved before caption neighbours have none
                return cls(z["known"].tolist(), z["targets"].tolist(), z["vectors"].astype(np.float32),
                           float(z["threshold"]), json.loads(z["captions"].tobytes()) if with_captions else (),
                           z["caption_vectors"].astype(np.float32) if with_captions else None,
                           int(z["neighbours"]) if with_captions else 0)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
            raise MuscallError(f"{path}: not a readable vocabulary bridge ({err}); delete it and rebuild it with "
                               "'muscall bridge --checkpoint CKPT --manifest M'") from err


def _content(lower: str) -> bool:
    """A word that can carry a fact: not glue, longer than two letters, no digit (numbers, years, catalogue and take
    numbers are not vocabulary)."""
    return lower.replace("’", "'") not in GLUE and len(lower) > 2 and not any(c.isdigit() for c in lower)


def build_bridge(captions: Iterable[str], extra_words: Iterable[str] = (), threshold: float = DEFAULT_THRESHOLD,
                 max_df: float = 0.2, neighbours: int = DEFAULT_NEIGHBOURS, seed: int = 0) -> VocabularyBridge:
    """A bridge over the words of ``captions`` (plus ``extra_words``, e.g. caption augmentation's lexicon), keeping
    up to :data:`MAX_NEIGHBOUR_CAPTIONS` distinct captions (a ``seed``-ed sample) for ``neighbours`` (0: none)."""
    from muscall.models.minilm import sentence_vectors  # lazy: an optional dependency

    if not 0.0 < threshold <= 1.0:
        raise MuscallError(f"vocabulary bridge threshold {threshold}: use a cosine in (0, 1]")
    if neighbours < 0:
        raise MuscallError(f"vocabulary bridge neighbours={neighbours}: use a count of captions (0 turns them off)")
    captions = list(captions)
    df: Counter[str] = Counter()
    n = 0
    for caption in captions:
        df.update({w.lower() for w in WORD.findall(caption)})
        n += 1
    known = set(df) | {w.lower() for phrase in extra_words for w in WORD.findall(phrase)}
    structural = {w for w, c in df.items() if c > max_df * n} if n >= MIN_CAPTIONS_FOR_DF else set()
    targets = sorted(w for w in known if w not in structural and w not in GLUE and len(w) > 2 and not w.isdigit())
    vectors = sentence_vectors(targets) if targets else np.zeros((0, 384), np.float32)
    kept = sorted(set(captions)) if neighbours else []
    if len(kept) > MAX_NEIGHBOUR_CAPTIONS:
        kept = [kept[i] for i in sorted(np.random.default_rng(seed).choice(len(kept), MAX_NEIGHBOUR_CAPTIONS,
                                                                            replace=False))]
    caption_vectors = sentence_vectors(kept) if kept else None
    log.info("vocabulary bridge: %d known words, %d mapping targets, threshold %.2f, %d captions for %d neighbours",
             len(known), len(targets), threshold, len(kept), neighbours)
    return VocabularyBridge(known, targets, vectors, threshold, kept, caption_vectors, neighbours)

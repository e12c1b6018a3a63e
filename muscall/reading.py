"""How text search read a query, for the person who typed it: the key it states and the words the model never saw.

A model trained from scratch on captions knows only their words; its vocabulary bridge maps an unseen word to the
nearest known one or leaves it (:mod:`muscall.models.bridge`), and :mod:`muscall.keys` reads the key, tonic or mode
a query states. :func:`query_reading` puts both in a dict (the API's ``SearchResponse.reading``), and
:func:`describe_reading` in one line (``muscall index search``, the demo), so a user can see what was understood
and rephrase what was not. No torch here: a client can import it cheaply.
"""

from __future__ import annotations

from typing import Any, Sequence

from muscall.keys import key_name, stated_key


def query_reading(tokenizer, text: str, key_weight: float) -> dict[str, Any]:
    """How search reads a text query: the key, tonic or mode it states (None when it states none or ``key_weight``
    is 0), the words the text tower never saw, mapped to known ones (``mapped_words``) or kept as they are
    (``unknown_words``; both None when the tokenizer has no vocabulary bridge), and the share of the query's
    embedding taken from its nearest training captions (``caption_share``)."""
    stated = stated_key(text) if key_weight > 0 else None
    out: dict[str, Any] = {"key": key_name(stated) if stated is not None else None, "mapped_words": None,
                           "unknown_words": None, "caption_share": 0.0}
    bridge = getattr(tokenizer, "bridge", None)
    if bridge is not None:
        mapped, kept, share = bridge.reading(text)
        out.update(mapped_words=mapped, unknown_words=kept, caption_share=round(share, 3))
    return out


def query_readings(tokenizer, texts: Sequence[str], key_weight: float) -> list[dict[str, Any]]:
    """:func:`query_reading` of each text; words the bridge has not looked up yet (a query whose embedding came from
    a cache, a cleared memo) are looked up together first, in one MiniLM pass."""
    bridge = getattr(tokenizer, "bridge", None)
    if bridge is not None:
        bridge.learn(list(texts))
    return [query_reading(tokenizer, text, key_weight) for text in texts]


def describe_reading(reading: dict[str, Any]) -> str:
    """One line of :func:`query_reading` for people: "key F# minor; gloomy -> melancholy; bitpop (unknown)"."""
    said = [f"key {reading['key']}"] if reading["key"] else []
    if reading["mapped_words"] is None:
        said.append("words as written (this model has no vocabulary bridge to check them)")
    else:
        said += [f"{word} -> {known}" for word, known in reading["mapped_words"].items()]
        said += [f"{word} (unknown)" for word in reading["unknown_words"] or []]
        if not (reading["mapped_words"] or reading["unknown_words"]):
            said.append("every word known to the model")
    return "; ".join(said)

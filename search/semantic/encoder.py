"""A sentence encoder read from a local folder: a BERT-family model whose mean (or [CLS]) vector says
what a whole text is about, across wordings no lexicon lists.

The folder holds what a sentence-transformers model ships: ``config.json`` (a BERT configuration),
``model.safetensors``, ``tokenizer.json`` and, optionally, ``1_Pooling/config.json`` (its pooling).
No model ships with the project: the operator chooses one licensed for the deployment (BAAI's
bge-small-zh-v1.5 is MIT-licensed) and names its folder in ``TECHMARKET_EMBEDDING_MODEL``. The
forward pass is plain numpy (a few matrix products per layer), so serving needs no deep-learning
runtime; tokenisation is Hugging Face's ``tokenizers``, the weights are read with ``safetensors``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_TOKENS = 256  # a listing's title and the opening of its text say what it is about
BATCH = 16
_GELU = math.sqrt(2 / math.pi)


class ModelFolderInvalid(ValueError):
    """The configured folder is not a model this encoder can read."""


@dataclass(frozen=True)
class _Layer:
    qkv: np.ndarray  # (hidden, 3·hidden): query, key and value projections side by side
    qkv_bias: np.ndarray
    out: np.ndarray
    out_bias: np.ndarray
    norm1: tuple[np.ndarray, np.ndarray]
    up: np.ndarray
    up_bias: np.ndarray
    down: np.ndarray
    down_bias: np.ndarray
    norm2: tuple[np.ndarray, np.ndarray]


@cache
def fingerprint(folder: Path) -> str:
    """Which model wrote a vector: a digest of its configuration and weights (vectors of another
    model, or of the same folder with new weights, are not comparable and are computed again)."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        path = folder / name
        if not path.is_file():
            raise ModelFolderInvalid(f"{folder}: {name} missing")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return f"{folder.name[:40]}:{digest.hexdigest()[:16]}"  # fits listing_vectors.model (64)


class SentenceEncoder:
    """``encode(texts)``: one unit-length float32 vector per text (cosine = dot product)."""

    def __init__(self, folder: Path, *, max_tokens: int = MAX_TOKENS) -> None:
        self.folder = folder
        self.model = fingerprint(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type", "bert") != "bert":
            raise ModelFolderInvalid(f"{folder}: model_type {config.get('model_type')!r}, expected bert")
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.pooling = _pooling(folder)
        stored = load_file(folder / "model.safetensors")
        weights = {_strip(name): value.astype(np.float32) for name, value in stored.items()}
        try:
            self.heads = int(config["num_attention_heads"])
            self.words = weights["embeddings.word_embeddings.weight"]
            self.positions = weights["embeddings.position_embeddings.weight"]
            self.segment = weights["embeddings.token_type_embeddings.weight"][0]
            self.norm0 = _norm(weights, "embeddings.LayerNorm")
            self.layers = [_layer(weights, f"encoder.layer.{i}") for i in range(int(config["num_hidden_layers"]))]
        except KeyError as missing:
            raise ModelFolderInvalid(f"{folder}: {missing} missing") from None
        self.max_tokens = min(max_tokens, self.positions.shape[0])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.dimensions = int(self.words.shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # batches of like length pad little
        vectors = np.zeros((len(texts), self.dimensions), np.float32)
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            width = max(len(encodings[i].ids) for i in chosen)
            ids = np.zeros((len(chosen), width), np.int64)
            mask = np.zeros((len(chosen), width), np.float32)
            for row, i in enumerate(chosen):
                ids[row, : len(encodings[i].ids)] = encodings[i].ids
                mask[row, : len(encodings[i].ids)] = 1.0
            vectors[chosen] = self._forward(ids, mask)
        return vectors

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, width = ids.shape
        # tokens as rows of one matrix: each dense layer is one matrix product
        hidden = (self.words[ids] + self.positions[:width] + self.segment).reshape(batch * width, -1)
        hidden = _layer_norm(hidden, self.norm0, self.eps)
        size = hidden.shape[-1] // self.heads
        blocked = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)  # padding is attended to by nothing
        for layer in self.layers:
            qkv = (hidden @ layer.qkv + layer.qkv_bias).reshape(batch, width, 3, self.heads, size)
            q, k, v = qkv.transpose(2, 0, 3, 1, 4)  # each (batch, heads, width, size)
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(size)) + blocked
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * width, -1)
            hidden = _layer_norm(hidden + context @ layer.out + layer.out_bias, layer.norm1, self.eps)
            up = hidden @ layer.up + layer.up_bias
            # GELU, tanh form (within 1e-5 of erf's in cosine); x*x*x: a float power is ~100x slower
            up = 0.5 * up * (1.0 + np.tanh(_GELU * (up + 0.044715 * (up * up * up))))
            hidden = _layer_norm(hidden + up @ layer.down + layer.down_bias, layer.norm2, self.eps)
        tokens = hidden.reshape(batch, width, -1)
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        else:
            pooled = (tokens * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True) + 1e-12
        return pooled.astype(np.float32)


def _strip(name: str) -> str:
    """``bert.encoder…`` and ``encoder…`` alike; old checkpoints call LayerNorm's parameters gamma, beta."""
    for root in ("embeddings.", "encoder."):
        at = name.find(root)
        if at >= 0:
            name = name[at:]
            break
    return name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")


def _norm(weights: dict[str, np.ndarray], prefix: str) -> tuple[np.ndarray, np.ndarray]:
    return weights[f"{prefix}.weight"], weights[f"{prefix}.bias"]


def _layer(weights: dict[str, np.ndarray], prefix: str) -> _Layer:
    attention = f"{prefix}.attention"
    projections = [f"{attention}.self.{part}" for part in ("query", "key", "value")]
    return _Layer(
        qkv=np.ascontiguousarray(np.concatenate([weights[f"{p}.weight"].T for p in projections], axis=1)),
        qkv_bias=np.concatenate([weights[f"{p}.bias"] for p in projections]),
        out=weights[f"{attention}.output.dense.weight"].T.copy(),
        out_bias=weights[f"{attention}.output.dense.bias"],
        norm1=_norm(weights, f"{attention}.output.LayerNorm"),
        up=weights[f"{prefix}.intermediate.dense.weight"].T.copy(),
        up_bias=weights[f"{prefix}.intermediate.dense.bias"],
        down=weights[f"{prefix}.output.dense.weight"].T.copy(),
        down_bias=weights[f"{prefix}.output.dense.bias"],
        norm2=_norm(weights, f"{prefix}.output.LayerNorm"),
    )


def _layer_norm(x: np.ndarray, norm: tuple[np.ndarray, np.ndarray], eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * norm[0] + norm[1]


def _pooling(folder: Path) -> str:
    """sentence-transformers' pooling file if there is one (bge: [CLS]), else the mean of the tokens."""
    path = folder / "1_Pooling" / "config.json"
    if path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("pooling_mode_cls_token"):
        return "cls"
    return "mean"

"""Sentence vectors: the encoder's arithmetic, the worker that keeps listings' vectors current, and
matching that reads them. The models are small ones written by the tests (random weights, or
character vectors laid out by hand); no model ships with the project."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from safetensors.numpy import load_file, save_file
from sqlalchemy import select, update
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from typer.testing import CliRunner

from app.cli import app as cli
from app.factory import create_app
from app.worker import run_once
from core.db import Database
from core.settings import Settings
from core.types import utcnow
from market.listings.models import Achievement
from search.matching.ranking import rescaled
from search.outbox_relay import relay_once
from search.semantic.encoder import ModelFolderInvalid, SentenceEncoder, fingerprint
from search.semantic.models import ListingVector
from search.semantic.tasks import VectorKeeper, embed_once
from tests.fixtures.app import login
from tests.market.test_listings import ENTERPRISE, INSTITUTE, achievement, demand
from tests.search.test_matching import _published

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
TEXTS = ["稀土永磁电机高温退磁", "奶牛场粪污除臭与液体肥还田技术, 臭气浓度降低九成", "风电"]


def write_model(
    folder: Path,
    characters: str,
    *,
    layers: int = 2,
    hidden: int = 16,
    heads: int = 4,
    positions: int = 64,
    vectors: Callable[[str], np.ndarray] | None = None,
    pooling: str | None = None,
    seed: int = 0,
) -> Path:
    """A BERT folder as sentence-transformers ship them: random weights, or (``vectors``) each
    character's embedding given and nothing else (no layers, no position), so a text's vector is
    the mean of its characters' normalised vectors."""
    folder.mkdir(parents=True, exist_ok=True)
    vocabulary = SPECIAL + sorted(set(characters) - {" ", ","})
    tokenizer = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocabulary)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {
        "model_type": "bert",
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "intermediate_size": 2 * hidden,
        "max_position_embeddings": positions,
        "layer_norm_eps": 1e-12,
        "vocab_size": len(vocabulary),
    }
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    rng = np.random.default_rng(seed)

    def random(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, shape).astype(np.float32)

    weights = {
        "embeddings.word_embeddings.weight": random(len(vocabulary), hidden),
        "embeddings.position_embeddings.weight": random(positions, hidden),
        "embeddings.token_type_embeddings.weight": random(2, hidden),
        "embeddings.LayerNorm.weight": 1 + random(hidden) / 5,
        "embeddings.LayerNorm.bias": random(hidden) / 5,
    }
    if vectors is not None:
        weights["embeddings.word_embeddings.weight"] = np.stack(
            [np.zeros(hidden, np.float32) if t in SPECIAL else vectors(t) for t in vocabulary]
        )
        weights["embeddings.position_embeddings.weight"] = np.zeros((positions, hidden), np.float32)
        weights["embeddings.token_type_embeddings.weight"] = np.zeros((2, hidden), np.float32)
        weights["embeddings.LayerNorm.weight"] = np.ones(hidden, np.float32)
        weights["embeddings.LayerNorm.bias"] = np.zeros(hidden, np.float32)
    for i in range(layers):
        prefix = f"encoder.layer.{i}"
        for name, shape in (
            ("attention.self.query", (hidden, hidden)),
            ("attention.self.key", (hidden, hidden)),
            ("attention.self.value", (hidden, hidden)),
            ("attention.output.dense", (hidden, hidden)),
            ("intermediate.dense", (2 * hidden, hidden)),
            ("output.dense", (hidden, 2 * hidden)),
        ):
            weights[f"{prefix}.{name}.weight"] = random(*shape) / math.sqrt(shape[1])
            weights[f"{prefix}.{name}.bias"] = random(shape[0]) / 5
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            weights[f"{prefix}.{norm}.weight"] = 1 + random(hidden) / 5
            weights[f"{prefix}.{norm}.bias"] = random(hidden) / 5
    save_file(weights, str(folder / "model.safetensors"))
    if pooling:
        (folder / "1_Pooling").mkdir(exist_ok=True)
        pooling_config = {"pooling_mode_cls_token": pooling == "cls", "pooling_mode_mean_tokens": pooling == "mean"}
        (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config), encoding="utf-8")
    return folder


def reference_vector(folder: Path, text: str) -> np.ndarray:
    """The textbook computation, one token and one head at a time, with erf's GELU."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    w: Mapping[str, np.ndarray] = {k: v.astype(np.float64) for k, v in load_file(folder / "model.safetensors").items()}
    ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    size = hidden // heads

    def norm(x: np.ndarray, prefix: str) -> np.ndarray:
        return (x - x.mean()) / math.sqrt(x.var() + 1e-12) * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]

    def dense(x: np.ndarray, prefix: str) -> np.ndarray:
        return w[f"{prefix}.weight"] @ x + w[f"{prefix}.bias"]

    states = [
        norm(
            w["embeddings.word_embeddings.weight"][t]
            + w["embeddings.position_embeddings.weight"][p]
            + w["embeddings.token_type_embeddings.weight"][0],
            "embeddings.LayerNorm",
        )
        for p, t in enumerate(ids)
    ]
    for i in range(config["num_hidden_layers"]):
        prefix = f"encoder.layer.{i}"
        q = [dense(s, f"{prefix}.attention.self.query") for s in states]
        k = [dense(s, f"{prefix}.attention.self.key") for s in states]
        v = [dense(s, f"{prefix}.attention.self.value") for s in states]
        updated = []
        for a, state in enumerate(states):
            context = np.zeros(hidden)
            for h in range(heads):
                part = slice(h * size, (h + 1) * size)
                logits = [float(q[a][part] @ k[b][part]) / math.sqrt(size) for b in range(len(states))]
                top = max(logits)
                shares = [math.exp(x - top) for x in logits]
                for b, share in enumerate(shares):
                    context[part] += share / sum(shares) * v[b][part]
            attended = norm(
                state + dense(context, f"{prefix}.attention.output.dense"), f"{prefix}.attention.output.LayerNorm"
            )
            inner = dense(attended, f"{prefix}.intermediate.dense")
            inner = np.array([0.5 * x * (1 + math.erf(x / math.sqrt(2))) for x in inner])
            updated.append(norm(attended + dense(inner, f"{prefix}.output.dense"), f"{prefix}.output.LayerNorm"))
        states = updated
    pooled_config = folder / "1_Pooling" / "config.json"
    cls = pooled_config.exists() and json.loads(pooled_config.read_text())["pooling_mode_cls_token"]
    pooled = states[0] if cls else np.mean(states, axis=0)
    return pooled / np.linalg.norm(pooled)


@pytest.mark.parametrize("pooling", [None, "cls"])
def test_the_encoder_computes_what_the_textbook_transformer_computes(tmp_path: Path, pooling: str | None) -> None:
    folder = write_model(tmp_path / "model", "".join(TEXTS), pooling=pooling)
    encoder = SentenceEncoder(folder)
    batch = encoder.encode(TEXTS)  # of three lengths: the shorter ones are padded in their batch
    assert batch.shape == (3, 16) and batch.dtype == np.float32
    for text, vector in zip(TEXTS, batch, strict=True):
        assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
        assert float(vector @ reference_vector(folder, text)) > 0.9999
        assert float(vector @ encoder.encode([text])[0]) > 0.99999  # alone or in a batch, the same


def test_a_text_longer_than_the_model_reads_is_cut_not_refused(tmp_path: Path) -> None:
    encoder = SentenceEncoder(write_model(tmp_path / "model", "".join(TEXTS), positions=16))
    long, opening = TEXTS[1] * 5, TEXTS[1][:14]  # 14 characters and [CLS] [SEP] fill 16 positions
    assert float(encoder.encode([long])[0] @ encoder.encode([opening])[0]) > 0.99999
    assert encoder.encode([]).shape == (0, 16)


def test_a_folder_that_is_no_model_is_refused_and_new_weights_are_a_new_model(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "model", "".join(TEXTS))
    before = fingerprint(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFolderInvalid, match="config.json"):
        SentenceEncoder(tmp_path / "empty")
    other = write_model(tmp_path / ("其他模型" * 20), "".join(TEXTS), seed=1)
    assert fingerprint(other) != before and len(fingerprint(other)) <= 64  # a long name still fits the column
    config = json.loads((other / "config.json").read_text())
    del config["num_hidden_layers"]
    (other / "config.json").write_text(json.dumps(config))
    fingerprint.cache_clear()
    with pytest.raises(ModelFolderInvalid, match="num_hidden_layers"):
        SentenceEncoder(other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    fingerprint.cache_clear()
    with pytest.raises(ModelFolderInvalid, match="gpt2"):
        SentenceEncoder(other)


def test_nearness_is_rescaled_over_the_candidates_and_a_missing_vector_counts_as_their_mean() -> None:
    assert rescaled([0.80, 0.90, None, 0.85]) == pytest.approx([0.0, 1.0, 0.5, 0.5])
    assert rescaled([0.80, 0.90, 0.88, None]) == pytest.approx([0.0, 1.0, 0.8, 0.6])
    assert rescaled([0.7, 0.7]) == [0.0, 0.0]


class CountingEncoder(SentenceEncoder):
    """Remembers how many texts each call encoded."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.batches: list[int] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(len(texts))
        return super().encode(texts)


async def _stored(database: Database) -> dict[tuple[str, int], ListingVector]:
    async with database.sessionmaker() as session:
        rows = (await session.execute(select(ListingVector))).scalars().all()
        return {(row.kind, row.listing_id): row for row in rows}


async def test_every_published_listing_gets_a_vector_that_follows_its_text(
    app: FastAPI, client: httpx.AsyncClient, database: Database, tmp_path: Path
) -> None:
    institute, enterprise = await login(client, INSTITUTE), await login(client, ENTERPRISE)
    magnets = await _published(client, institute, "achievements", achievement())
    manure = await _published(client, institute, "achievements", achievement(title="牧场粪污除臭技术"))
    smell = await _published(client, enterprise, "demands", demand())
    encoder = CountingEncoder(write_model(tmp_path / "model", "".join(TEXTS) + "牧场粪污除臭技术稀土"))
    encoded = encoder.batches

    assert await embed_once(database, encoder) == 3
    assert await embed_once(database, encoder) == 0  # all current: nothing to do
    stored = await _stored(database)
    assert set(stored) == {("achievement", magnets["id"]), ("achievement", manure["id"]), ("demand", smell["id"])}
    assert {row.model for row in stored.values()} == {encoder.model}
    assert all(len(row.vector) == 16 * 2 for row in stored.values())  # half precision

    async with database.unit_of_work() as session:  # touched, text unchanged: not encoded again
        await session.execute(update(Achievement).where(Achievement.id == magnets["id"]).values(updated_at=utcnow()))
    encoded.clear()
    assert await embed_once(database, encoder) == 1 and encoded == []
    assert (await _stored(database))[("achievement", magnets["id"])].vector == stored[
        ("achievement", magnets["id"])
    ].vector

    async with database.unit_of_work() as session:  # its text changed: a new vector
        await session.execute(
            update(Achievement).where(Achievement.id == manure["id"]).values(title="风电", updated_at=utcnow())
        )
    assert await embed_once(database, encoder) == 1 and encoded == [1]
    assert (await _stored(database))[("achievement", manure["id"])].vector != stored[
        ("achievement", manure["id"])
    ].vector

    other = SentenceEncoder(write_model(tmp_path / "other", "".join(TEXTS), seed=7))  # another model: all again
    assert await embed_once(database, other) == 3
    assert {row.model for row in (await _stored(database)).values()} == {other.model}

    await client.post(f"/api/v1/achievements/{magnets['id']}/withdraw", headers=institute)
    assert await embed_once(database, encoder) == 2  # the withdrawn one is nobody's candidate: left as it is


async def test_the_worker_step_rests_after_a_scan_that_found_nothing(
    client: httpx.AsyncClient, database: Database, tmp_path: Path
) -> None:
    institute = await login(client, INSTITUTE)
    await _published(client, institute, "achievements", achievement())
    keeper = VectorKeeper(database, write_model(tmp_path / "model", "".join(TEXTS)), idle_seconds=3600)
    assert await keeper.step() == 1
    assert await keeper.step() == 0  # nothing pending: rests
    await _published(client, institute, "achievements", achievement(title="风电"))
    assert await keeper.step() == 0  # resting: not scanned
    keeper.quiet_until = 0.0  # an hour later
    assert await keeper.step() == 1


async def test_matching_ranks_the_listing_whose_vector_is_nearest_higher(
    settings: Settings, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two achievements answer the demand's keyword alike; the one that says more of it in its title
    leads on words. The model places the other's wording (养殖废弃物, 异味) beside the demand's."""
    demand_text = "奶牛场粪污臭味大, 周边投诉"
    near_text = "畜禽养殖废弃物异味治理"
    far_text = "粪污运输车辆调度"
    directions = {c: 0 for c in demand_text + near_text} | {c: 1 for c in far_text} | {c: 2 for c in "粪污"}

    def vectors(character: str) -> np.ndarray:
        vector = np.full(16, 0.01, np.float32)
        vector[directions.get(character, 3)] = 1.0
        return vector

    folder = write_model(tmp_path / "model", demand_text + near_text + far_text + "处理技术", layers=0, vectors=vectors)
    configured = settings.model_copy(update={"embedding_model": folder})
    monkeypatch.setenv("TECHMARKET_EMBEDDING_MODEL", str(folder))  # what the worker reads
    application = create_app(configured, database=database)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            institute, enterprise = await login(client, INSTITUTE), await login(client, ENTERPRISE)

            async def publish(path: str, body: dict[str, Any]) -> int:
                headers = enterprise if path == "demands" else institute
                return int((await _published(client, headers, path, body))["id"])

            near = await publish(
                "achievements",
                achievement(title=near_text, summary="粪污" + near_text, keywords=["粪污"], field="environment"),
            )
            far = await publish(
                "achievements",
                achievement(
                    title="粪污" + far_text, summary="粪污处理" + far_text, keywords=["粪污"], field="environment"
                ),
            )
            wanted = await publish(
                "demands", demand(title=demand_text, description=demand_text + "粪污处理", keywords=["粪污"])
            )
            await relay_once(database, application.state.search)

            async def order() -> list[tuple[int, bool]]:
                reply = await client.get(f"/api/v1/demands/{wanted}/matches", params={"limit": 5})
                assert reply.status_code == 200, reply.text
                said = "全文语义相近 (语义模型)"
                return [(item["listing"]["id"], said in item["reasons"]) for item in reply.json()["items"]]

            assert await order() == [(far, False), (near, False)]  # no vectors yet: words alone, nothing fails
            assert await run_once(database, application.state.search, application.state.http) >= 3  # the worker
            assert await order() == [(near, True), (far, False)]


async def test_a_configured_folder_that_is_no_model_stops_the_start(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    (tmp_path / "not-a-model").mkdir()
    application = create_app(
        settings.model_copy(update={"embedding_model": tmp_path / "not-a-model"}), database=database
    )
    with pytest.raises(ModelFolderInvalid, match="config.json missing"):
        async with application.router.lifespan_context(application):
            pass


def test_a_worker_whose_model_folder_is_no_model_does_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "not-a-model").mkdir()
    monkeypatch.setenv("TECHMARKET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TECHMARKET_EMBEDDING_MODEL", str(tmp_path / "not-a-model"))
    result = CliRunner().invoke(cli, ["worker", "--once"])
    assert result.exit_code == 2
    assert "TECHMARKET_EMBEDDING_MODEL" in result.output and "config.json missing" in result.output

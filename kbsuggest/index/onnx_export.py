"""The fast query path: a sentence-transformers model's transformer exported once, at build time, to ONNX
and stored in the index with its tokenizer (`export_onnx`); a loaded index then encodes messages with it
(`fast_encoder`), importing neither torch nor sentence-transformers.

Its vectors equal the sentence-transformers ones: an export whose output differs (cosine below
`EXPORT_MIN_COSINE` on probe texts, a truncated long one among them) is not stored, and the index then
answers through sentence-transformers as before.

Builds encode documents with the export quantised to int8 (dynamic, per channel; `document_encoders`):
2.1-2.5x faster than sentence-transformers, accuracy@1 within 0.005 on the shared dev sets (the README's
"Faster builds" table, `benchmarks/bench_build_speed.py`); `Settings.quantized_build=False` keeps them
exact. A quantised model whose vectors stray (cosine below `QUANTIZED_MIN_COSINE` on the probes) is not
stored."""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from kbsuggest._version import __version__
from kbsuggest.encoders import Encoder, SentenceTransformerEncoder
from kbsuggest.encoders.onnx import OnnxEncoder, shared_onnx_encoder
from kbsuggest.errors import REBUILD_HINT, IndexCorruptError, IndexWriteError
from kbsuggest.index.manifest import EncoderRecord, FileRecord, Manifest, OnnxRecord
from kbsuggest.index.model_store import remember_export, stored_export
from kbsuggest.index.storage import write_file, write_json

log = logging.getLogger(__name__)
OPSET = 17
EXPORTERS = ("torch", "transformers", "sentence-transformers", "tokenizers", "onnx", "onnxruntime")
"""The packages whose versions decide an export's bytes (the exporter, the model code it traces, the tokenizer
file it writes, the int8 quantiser): part of its key in a model store (`export_key`)."""
EXPORT_MIN_COSINE = 0.9999
QUANTIZED_MIN_COSINE = 0.95
"""Measured over the shared dev sets' articles: min 0.968, mean 0.992."""
PROBES = (
    "where is my parcel? it's been 10 days!!",
    "我的退款怎么还没到账？",
    "Does the M fit someone 175cm tall, or should I size up?",
    " ".join(["Returns are accepted within 30 days of delivery when the item is unworn."] * 40),
)


def export_onnx(encoder: SentenceTransformerEncoder, index_dir: Path, stem: str) -> OnnxRecord | None:
    """Export `encoder`'s transformer into `index_dir`; None (logged) when its pipeline is not a transformer
    then mean or CLS pooling (then normalisation), the exporter fails, or the exported vectors differ."""
    modules: list[Any] = list(encoder.model)
    pooling = getattr(modules[1], "pooling_mode", None) if len(modules) in (2, 3) else None
    if pooling not in ("mean", "cls") or not hasattr(modules[0], "auto_model"):
        log.warning("no ONNX fast path for %s: its modules are not transformer + mean or CLS pooling", encoder.model_id)
        return None
    try:
        model = write_file(index_dir, f"{stem}-onnx", ".onnx", lambda path: _export(modules[0].auto_model, path))
    except IndexWriteError:
        raise
    except Exception as exc:  # whatever the exporter raises only means no fast path
        log.warning("no ONNX fast path for %s: the export failed (%s)", encoder.model_id, exc)
        return None
    tokenizer = modules[0].tokenizer
    record = OnnxRecord(
        model=model,
        tokenizer=write_json(index_dir, f"{stem}-tokenizer", tokenizer.backend_tokenizer.to_str().encode()),
        max_seq_length=modules[0].max_seq_length,
        pooling=pooling,
        special_tokens=tuple(tokenizer.all_special_tokens),
    )
    cosine = _agreement(_onnx_encoder(encoder, record, record.model, index_dir, threads=1), encoder)
    if cosine < EXPORT_MIN_COSINE:
        log.warning("no ONNX fast path for %s: its vectors differ (cosine %.6f)", encoder.model_id, cosine)
        return None
    return record


def _quantize(encoder: SentenceTransformerEncoder, record: OnnxRecord, index_dir: Path, stem: str) -> FileRecord | None:
    """`record`'s model quantised to int8 in `index_dir`; None (logged) when that fails or its vectors stray."""

    def write(path: Path) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        root = logging.getLogger()
        root.addFilter(_quantizer_notes)  # it advises pre-processing through the root logger
        try:
            quantize_dynamic(index_dir / record.model.name, path, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.removeFilter(_quantizer_notes)

    try:
        documents = write_file(index_dir, f"{stem}-onnx-quantized", ".onnx", write)
    except IndexWriteError:
        raise
    except Exception as exc:  # as for the export: only means documents are encoded by the model itself
        log.warning("no int8 document encoder for %s: quantisation failed (%s)", encoder.model_id, exc)
        return None
    cosine = _agreement(_onnx_encoder(encoder, record, documents, index_dir, threads=2), encoder)
    if cosine < QUANTIZED_MIN_COSINE:
        log.warning("no int8 document encoder for %s: its vectors stray (cosine %.4f)", encoder.model_id, cosine)
        return None
    return documents


def _quantizer_notes(record: logging.LogRecord) -> bool:
    return "onnxruntime" not in record.pathname


def _agreement(ours: Encoder, reference: Encoder) -> float:
    """The lowest cosine between the two encoders' vectors of the probe texts."""
    return float(np.min(np.sum(ours.encode_documents(PROBES) * reference.encode_documents(PROBES), axis=1)))


def fast_encoder(record: EncoderRecord, index_dir: Path) -> Encoder:
    """The ONNX encoder of an index's encoder `record`, which must have an export, opened now. Its files
    must have been verified against their checksums (`read_index`); any that still cannot be opened is
    `IndexCorruptError`."""
    assert record.onnx is not None
    try:
        return _onnx_encoder(record, record.onnx, record.onnx.model, index_dir, threads=1)
    except Exception as exc:  # ONNX Runtime's and tokenizers' errors derive from Exception alone
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IndexCorruptError(
            f"{index_dir / record.onnx.model.name} or {record.onnx.tokenizer.name} cannot be opened ({first_line}); "
            f"{REBUILD_HINT.format(index_dir=index_dir)}"
        ) from None


def document_encoders(
    encoders: Mapping[str, Encoder], exports: Mapping[str, OnnxRecord | None], index_dir: Path
) -> dict[str, Encoder]:
    """What a build encodes documents with: `encoders`, each sentence-transformers one with an int8 export
    in `exports` replaced by it, on two threads (others, wrappers among them, as `with_fast_queries`)."""
    return {
        name: _onnx_encoder(encoder, export, export.documents, index_dir, threads=2)
        if (export := exports[name]) and export.documents and isinstance(encoder, SentenceTransformerEncoder)
        else encoder
        for name, encoder in encoders.items()
    }


def _onnx_encoder(
    identity: Encoder | EncoderRecord, record: OnnxRecord, model: FileRecord, index_dir: Path, *, threads: int
) -> OnnxEncoder:
    """`model` (`record.model` or `record.documents`) under `identity`'s model id and fingerprint, shared by
    every index with the same files (`shared_onnx_encoder`)."""
    return shared_onnx_encoder(
        identity.model_id,
        identity.fingerprint,
        (index_dir / model.name, index_dir / record.tokenizer.name),
        (model.sha256, record.tokenizer.sha256),
        max_seq_length=record.max_seq_length,
        pooling=record.pooling,
        special_tokens=record.special_tokens,
        threads=threads,
    )


def _export(transformer: Any, path: Path) -> None:
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            output: torch.Tensor = self.transformer(input_ids=input_ids, attention_mask=attention_mask)[0]
            return output

    example = torch.ones((1, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
        torch.onnx.export(
            LastHiddenState().eval(),
            (example, example),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=OPSET,
            dynamo=False,
        )


def onnx_for(
    encoder: Encoder,
    previous: EncoderRecord | None,
    index_dir: Path,
    stem: str,
    *,
    quantized: bool,
    store: Path | None = None,
) -> OnnxRecord | None:
    """The build's export for `encoder`: the previous index's (same model, so its files are kept), else the one
    `store` (a model store) holds for the same model and exporter (`export_key`), else a new one for a
    sentence-transformers model (then kept in `store`); with its int8 model when `quantized` (made now if it
    has none)."""
    key, made = None, False
    if previous is not None and previous.onnx is not None:
        record: OnnxRecord | None = previous.onnx
    elif isinstance(encoder, SentenceTransformerEncoder):
        key = export_key(encoder) if store is not None else None
        record = stored_export(store, key, index_dir) if store is not None and key is not None else None
        made = record is None
        if made:
            record = export_onnx(encoder, index_dir, stem)
    else:
        return None
    if record is None:
        return None
    if quantized and record.documents is None and isinstance(encoder, SentenceTransformerEncoder):
        record = record.model_copy(update={"documents": _quantize(encoder, record, index_dir, stem)})
        made = True
    if store is not None and key is not None and made:  # not the previous index's: an older exporter's, maybe
        remember_export(store, key, record, index_dir)
    return record if quantized else record.model_copy(update={"documents": None})


def export_key(encoder: SentenceTransformerEncoder) -> str | None:
    """What an export of `encoder` is made from, hashed: its model's files, the opset, kbsuggest's and the
    `EXPORTERS`' versions. None for a model not on disk (nothing to hash: its exports are not kept)."""
    files = encoder.files_sha256
    if files is None:
        return None
    made_by = {"model": files, "opset": OPSET, "kbsuggest": __version__}
    made_by |= {name: _version(name) for name in EXPORTERS}
    return hashlib.sha256(json.dumps(made_by, sort_keys=True).encode()).hexdigest()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def with_fast_queries(encoders: Mapping[str, Encoder], manifest: Manifest, index_dir: Path) -> dict[str, Encoder]:
    """`encoders` with each sentence-transformers one that has an export in `manifest` replaced by its ONNX
    encoder. Others, wrappers such as `PooledOnly` among them, are kept as given."""
    return {
        name: fast_encoder(manifest.encoders[name], index_dir)
        if manifest.encoders[name].onnx and isinstance(encoder, SentenceTransformerEncoder)
        else encoder
        for name, encoder in encoders.items()
    }

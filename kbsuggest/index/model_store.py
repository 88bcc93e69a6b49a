"""A model store: one folder of content-addressed model files (`<sha256>.onnx`, `<sha256>.json`) that many index
folders hard-link their ONNX exports to, so a thousand indexes built with the same model hold one copy on disk
(113 MB for all-MiniLM-L6-v2's export and its int8 copy) instead of a thousand.

Every index folder still holds its files under their usual names, so it stays whole: copied elsewhere, it
copies the files; a store that is deleted leaves every index loadable. The files are never written in place
(builds write new ones and rename them), so sharing their inode is safe. An index folder on another file
system than the store keeps its own copies (hard links cannot cross file systems); that is logged.

The store also remembers which export a model makes (`exports/<key>.json`, the key naming the model's files and
everything else that decides the export's bytes: `onnx_export.export_key`), so a new index folder's build links
that export (`stored_export`) instead of exporting the model again."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

from pydantic import ValidationError

from kbsuggest.encoders.base import sha256_file
from kbsuggest.index.manifest import FileRecord, Manifest, OnnxRecord
from kbsuggest.index.storage import writing

log = logging.getLogger(__name__)
EXPORTS = "exports"
"""The store's folder of `<key>.json` files: the `OnnxRecord` of the export made under that key."""


def model_files(manifest: Manifest) -> list[FileRecord]:
    """The files of the manifest's ONNX exports: models, tokenizers and int8 models."""
    return [file for record in manifest.encoders.values() if record.onnx for file in _export_files(record.onnx)]


def _export_files(record: OnnxRecord) -> list[FileRecord]:
    return [file for file in (record.model, record.tokenizer, record.documents) if file]


def share_models(index_dir: Path, manifest: Manifest, store: Path) -> int:
    """Make each model file of `manifest` in `index_dir` a hard link of its copy in `store`, adding the copies
    the store lacks (and replacing one that fails its checksum). Returns how many files now share the store's
    copy; 0 when the store is on another file system (logged)."""
    return _share(index_dir, model_files(manifest), store)


def stored_export(store: Path, key: str, index_dir: Path) -> OnnxRecord | None:
    """The export `store` remembers under `key` (`remember_export`), its files hard-linked into `index_dir`;
    None when it has none, or when one of its files is missing, fails its checksum or cannot be linked (logged)."""
    try:
        record = OnnxRecord.model_validate_json((store / EXPORTS / f"{key}.json").read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:
        log.warning("not reusing the model store's export %s: %s", key, exc)
        return None
    try:
        for file in _export_files(record):
            theirs = _stored(store, file)
            if sha256_file(theirs) != file.sha256:
                log.warning("not reusing the model store's export %s: %s fails its checksum", key, theirs)
                return None
            _link(theirs, index_dir / file.name)
    except OSError as exc:
        log.warning("not reusing the model store's export %s: %s", key, exc)
        return None
    return record


def remember_export(store: Path, key: str, record: OnnxRecord, index_dir: Path) -> None:
    """Keep the files of `record` (an export just made in `index_dir`) in `store` and remember it under `key`."""
    if _share(index_dir, _export_files(record), store) < len(_export_files(record)):
        return  # the store could not take them (logged)
    with writing(store):
        (store / EXPORTS).mkdir(exist_ok=True)
        temp = store / EXPORTS / f".tmp-{uuid.uuid4().hex}"
        try:
            temp.write_text(record.model_dump_json())
            os.replace(temp, store / EXPORTS / f"{key}.json")
        finally:
            temp.unlink(missing_ok=True)


def _stored(store: Path, file: FileRecord) -> Path:
    return store / f"{file.sha256}{Path(file.name).suffix}"


def _share(index_dir: Path, files: list[FileRecord], store: Path) -> int:
    with writing(store):
        store.mkdir(parents=True, exist_ok=True)
    shared = 0
    for file in files:
        ours, theirs = index_dir / file.name, _stored(store, file)
        try:
            if theirs.exists() and os.path.samefile(ours, theirs):
                shared += 1
                continue
            if theirs.exists() and sha256_file(theirs) == file.sha256:
                _link(theirs, ours)  # the index now uses the store's copy; its own is freed
            else:
                _link(ours, theirs)  # the store takes the index's copy
        except OSError as exc:
            log.warning(
                "%s keeps its own copy of %s: it cannot be linked into %s (%s)", index_dir, file.name, store, exc
            )
            continue
        shared += 1
    return shared


def _link(source: Path, target: Path) -> None:
    """Replace `target` with a hard link of `source`, atomically (a reader sees one or the other, whole)."""
    temp = target.with_name(f".tmp-link-{uuid.uuid4().hex}")
    os.link(source, temp)
    try:
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)

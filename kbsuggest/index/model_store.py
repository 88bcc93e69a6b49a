"""A model store: one folder of content-addressed model files (`<sha256>.onnx`, `<sha256>.json`) that many index
folders hard-link their ONNX exports to, so a thousand indexes built with the same model hold one copy on disk
(113 MB for all-MiniLM-L6-v2's export and its int8 copy) instead of a thousand.

Every index folder still holds its files under their usual names, so it stays whole: copied elsewhere, it
copies the files; a store that is deleted leaves every index loadable. The files are never written in place
(builds write new ones and rename them), so sharing their inode is safe. An index folder on another file
system than the store keeps its own copies (hard links cannot cross file systems); that is logged."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

from kbsuggest.encoders.base import sha256_file
from kbsuggest.index.manifest import FileRecord, Manifest
from kbsuggest.index.storage import writing

log = logging.getLogger(__name__)


def model_files(manifest: Manifest) -> list[FileRecord]:
    """The files of the manifest's ONNX exports: models, tokenizers and int8 models."""
    return [
        file
        for record in manifest.encoders.values()
        if record.onnx
        for file in (record.onnx.model, record.onnx.tokenizer, record.onnx.documents)
        if file
    ]


def share_models(index_dir: Path, manifest: Manifest, store: Path) -> int:
    """Make each model file of `manifest` in `index_dir` a hard link of its copy in `store`, adding the copies
    the store lacks (and replacing one that fails its checksum). Returns how many files now share the store's
    copy; 0 when the store is on another file system (logged)."""
    with writing(store):
        store.mkdir(parents=True, exist_ok=True)
    shared = 0
    for file in model_files(manifest):
        ours = index_dir / file.name
        theirs = store / f"{file.sha256}{ours.suffix}"
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

"""Index folder I/O. Data files are content-addressed and written first; `manifest.json` is replaced
atomically last, so a crash at any point leaves the previous index whole and loadable."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from kbsuggest.articles.models import Article, Section
from kbsuggest.articles.templates import Templates, load_saved_templates
from kbsuggest.encoders.base import Encoder, sha256_file
from kbsuggest.errors import REBUILD_HINT, IndexCorruptError, IndexMismatchError, IndexWriteError, KbSuggestError
from kbsuggest.index.bm25 import BM25
from kbsuggest.index.manifest import FORMAT_VERSION, FileRecord, Manifest, TokenRecord
from kbsuggest.index.store import VectorStore
from kbsuggest.index.tokens import TokenStore, load_segment
from kbsuggest.index.views import view_texts

MANIFEST = "manifest.json"
_CHECKSUM = "checksum"
_DATA_FILE = re.compile(r"^[a-z][a-z-]*-[0-9a-f]{16}\.(json|npz|npy|faiss|onnx)$")
"""Names `write_file` gives; nothing else in the folder (a feedback database, say) is ever deleted."""
_SECTIONS = TypeAdapter(tuple[Section, ...])
_REMEMBERED_SIZE = 1 << 20
"""Files from this size on (the ONNX exports) are hashed once per process while their inode is unchanged."""
_VERIFIED: dict[tuple[int, ...], str] = {}


@dataclass(frozen=True)
class IndexData:
    """A loaded index: the manifest, the sections, per encoder one vector store per view (row i = section i),
    per token-capable encoder one token store per view, the reply templates and the BM25 index."""

    manifest: Manifest
    sections: tuple[Section, ...]
    stores: Mapping[str, Mapping[str, VectorStore]]
    tokens: Mapping[str, Mapping[str, TokenStore]]
    templates: Mapping[str, Templates]
    lexical: BM25


@contextlib.contextmanager
def writing(index_dir: Path) -> Iterator[None]:
    """Raise the OSError of a write into `index_dir` (read-only, full disk) as `IndexWriteError`."""
    try:
        yield
    except OSError as exc:
        raise IndexWriteError(
            f"cannot write the index in {index_dir} ({exc}). Fix: make the folder writable by this process and "
            "free disk space there, then build again; the index already there is unchanged"
        ) from exc


def write_file(index_dir: Path, stem: str, suffix: str, write: Callable[[Path], None]) -> FileRecord:
    """Write through `write` into a temp file, fsync it, and rename it to `stem-<sha>.suffix`."""
    with writing(index_dir):
        handle, temp_name = tempfile.mkstemp(dir=index_dir, prefix=".tmp-", suffix=suffix)
        os.close(handle)
        temp = Path(temp_name)
        try:
            temp.chmod(0o644)
            write(temp)
            with temp.open("rb") as f:
                os.fsync(f.fileno())
            digest = sha256_file(temp)
            name = f"{stem}-{digest[:16]}{suffix}"
            os.replace(temp, index_dir / name)
        finally:
            temp.unlink(missing_ok=True)
    return FileRecord(name=name, sha256=digest)


def write_json(index_dir: Path, stem: str, data: bytes) -> FileRecord:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write_file(index_dir, stem, ".json", write)


def write_sections(index_dir: Path, sections: tuple[Section, ...]) -> FileRecord:
    return write_json(index_dir, "sections", _SECTIONS.dump_json(sections))


def write_array(index_dir: Path, stem: str, array: np.ndarray) -> FileRecord:
    def write(path: Path) -> None:
        with path.open("wb") as handle:
            np.save(handle, array, allow_pickle=False)

    return write_file(index_dir, stem, ".npy", write)


def write_tokens(
    index_dir: Path, name: str, stores: Mapping[str, TokenStore], on_disk: tuple[FileRecord, ...]
) -> TokenRecord:
    """Write the segments of the views' shared pool after the first `len(on_disk)` (already in `index_dir`),
    and each view's spans."""
    segments = next(iter(stores.values())).segments[len(on_disk) :]
    return TokenRecord(
        segments=(*on_disk, *(write_array(index_dir, f"{name}-tokens", segment) for segment in segments)),
        spans={view: write_array(index_dir, f"{name}-{view}-spans", store.spans) for view, store in stores.items()},
    )


def commit_manifest(index_dir: Path, manifest: Manifest, previous: Manifest | None) -> None:
    """Atomically make `manifest` the index, then delete data files neither it nor `previous` refers to
    (a reader that read the previous manifest just before the switch still finds its files)."""
    temp = index_dir / f".tmp-{os.getpid()}-{MANIFEST}"
    with writing(index_dir):
        try:
            with temp.open("w", encoding="utf-8") as f:
                f.write(json.dumps(seal(manifest.model_dump(mode="json")), indent=1, ensure_ascii=False))
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, index_dir / MANIFEST)
        finally:
            temp.unlink(missing_ok=True)
    dir_fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    kept = manifest.files() + (previous.files() if previous else [])
    keep = {record.name for record in kept}
    for path in index_dir.iterdir():
        if _DATA_FILE.match(path.name) and path.name not in keep:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder (across processes)."""
    with writing(index_dir):
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = (index_dir / ".lock").open("a")
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            for stale in index_dir.glob(".tmp-*"):
                stale.unlink(missing_ok=True)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def seal(content: dict[str, Any]) -> dict[str, Any]:
    """`content` (a manifest as JSON data) with its `checksum`: the sha256 of its canonical JSON form."""
    return {**content, _CHECKSUM: _checksum(content)}


def _checksum(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def read_manifest(index_dir: Path) -> Manifest | None:
    """The manifest, or None when the folder holds no index yet. Any changed byte is `IndexCorruptError`; a
    manifest of another format version (older ones have no checksum) is `IndexMismatchError`."""
    path = index_dir / MANIFEST
    if not path.exists():
        return None
    hint = REBUILD_HINT.format(index_dir=index_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{path} is unreadable ({exc}); {hint}") from None
    if not isinstance(raw, dict):
        raise IndexCorruptError(f"{path} is not a manifest (a JSON {type(raw).__name__}); {hint}")
    version = raw.get("format_version")
    checksum = raw.pop(_CHECKSUM, None)
    older = checksum is None and isinstance(version, int) and version < FORMAT_VERSION
    if not older and checksum != _checksum(raw):
        raise IndexCorruptError(f"{path} does not match its own checksum: it was changed or damaged; {hint}")
    if version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{path} has index format version {version}, this kbsuggest reads version {FORMAT_VERSION}; {hint}"
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        raise IndexCorruptError(f"{path} does not validate ({exc.error_count()} errors); {hint}") from None


def check_encoders(
    manifest: Manifest, encoders: Mapping[str, Encoder], index_dir: Path | str, hint: str | None = None
) -> None:
    """Refuse an index whose vectors came from other models than `encoders`. `index_dir`: where the index is,
    for the message; `hint`: how to rebuild it (default: into that folder)."""
    hint = hint or REBUILD_HINT.format(index_dir=index_dir)
    if set(manifest.encoders) != set(encoders):
        raise IndexMismatchError(
            f"{index_dir} was built with encoders {sorted(manifest.encoders)}, "
            f"but {sorted(encoders)} are configured; {hint}"
        )
    for name, encoder in encoders.items():
        record = manifest.encoders[name]
        if (record.model_id, record.fingerprint) != (encoder.model_id, encoder.fingerprint):
            raise IndexMismatchError(
                f"{index_dir} was built with {name} model {record.model_id} (fingerprint "
                f"{record.fingerprint[:12]}), but {encoder.model_id} (fingerprint {encoder.fingerprint[:12]}) "
                f"is configured; {hint}, or configure the model it was built with"
            )


def parsed_articles(index_dir: Path, articles_dir: Path) -> dict[str, Article]:
    """The articles the current index was built from `articles_dir`, by `Article.source_hash`, for
    `load_articles` to reuse instead of parsing unchanged files again; empty when there is no readable index.
    Needs no build lock: an article is keyed by everything its parse depended on (its path among them), so
    any index's copy of it is right."""
    try:
        manifest = read_manifest(index_dir)
        if manifest is None:
            return {}
        data = (index_dir / manifest.sections_file.name).read_bytes()
        if hashlib.sha256(data).hexdigest() != manifest.sections_file.sha256:
            return {}
        by_article: dict[str, list[Section]] = {}
        for section in _SECTIONS.validate_json(data):
            by_article.setdefault(section.article_id, []).append(section)
        return {
            a.source_hash: Article(
                meta=a.meta,
                path=str(articles_dir / a.path),
                sections=tuple(by_article[a.meta.id]),
                source_hash=a.source_hash,
            )
            for a in manifest.articles
        }
    except (KbSuggestError, OSError, ValidationError, KeyError):
        return {}


def read_index(index_dir: Path, manifest: Manifest) -> IndexData:
    """Load the data files `manifest` names, verifying each checksum first."""
    hint = REBUILD_HINT.format(index_dir=index_dir)
    for record in manifest.files():
        path = index_dir / record.name
        if not path.is_file():
            raise IndexCorruptError(f"{path} is missing; {hint}")
        if not _verified(path, record.sha256):
            raise IndexCorruptError(f"{path} does not match its checksum in {MANIFEST}; {hint}")
    try:
        return _read_data(index_dir, manifest)
    except (ValidationError, ValueError, KeyError, RuntimeError, EOFError, zipfile.BadZipFile) as exc:
        # pydantic, numpy (EOFError for an empty .npy, BadZipFile for a damaged .npz) and faiss (RuntimeError)
        # reject files written by another format or damaged in a way their checksum cannot show (a manifest
        # edited by hand).
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IndexCorruptError(f"{index_dir} holds data this kbsuggest cannot read ({first_line}); {hint}") from None


def _verified(path: Path, sha256: str) -> bool:
    """Whether `path` hashes to `sha256`. A large file (a model export, which many indexes share through a
    model store's hard links) already verified in this process is not read again while its inode, size,
    mtime and ctime are unchanged: any write to it, or a new link, changes its ctime."""
    stat = path.stat()
    key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if _VERIFIED.get(key) == sha256:
        return True
    if sha256_file(path) != sha256:
        return False
    if stat.st_size >= _REMEMBERED_SIZE:
        _VERIFIED[key] = sha256
    return True


def _read_data(index_dir: Path, manifest: Manifest) -> IndexData:
    hint = REBUILD_HINT.format(index_dir=index_dir)
    sections = _SECTIONS.validate_json((index_dir / manifest.sections_file.name).read_bytes())
    article_ids = {a.meta.id for a in manifest.articles}
    if [s.id for s in sections] != [r.id for r in manifest.sections] or any(
        s.article_id not in article_ids for s in sections
    ):
        raise IndexCorruptError(
            f"{index_dir / manifest.sections_file.name} does not hold the sections {MANIFEST} lists; {hint}"
        )
    stores = {
        name: {view: VectorStore.load(index_dir / file.name) for view, file in record.views.items()}
        for name, record in manifest.encoders.items()
    }
    expected = {view: len(rows) for view, rows in view_texts(sections).items()}
    for name, per_view in stores.items():
        if set(per_view) != set(expected):
            raise IndexCorruptError(f"{name} has views {sorted(per_view)}, not {sorted(expected)}; {hint}")
        for view, store in per_view.items():
            if len(store) != expected.get(view):
                raise IndexCorruptError(
                    f"{name} {view} vectors hold {len(store)} rows, not {expected.get(view)}; {hint}"
                )
    tokens = {
        name: _token_stores(index_dir, record.tokens) for name, record in manifest.encoders.items() if record.tokens
    }
    for name, token_views in tokens.items():
        for view, token_store in token_views.items():
            if len(token_store) != expected.get(view):
                raise IndexCorruptError(f"{name} {view} tokens cover {len(token_store)} texts; {hint}")
    lexical = BM25.load(index_dir / manifest.lexical_file.name)
    templates = load_saved_templates(index_dir / manifest.templates_file.name)
    return IndexData(
        manifest=manifest, sections=sections, stores=stores, tokens=tokens, templates=templates, lexical=lexical
    )


def _token_stores(index_dir: Path, record: TokenRecord) -> dict[str, TokenStore]:
    segments = [load_segment(index_dir / file.name) for file in record.segments]
    return {
        view: TokenStore(segments, np.load(index_dir / file.name, allow_pickle=False))
        for view, file in record.spans.items()
    }

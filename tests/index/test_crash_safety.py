"""A build killed at any moment leaves the previous index whole; damaged index files are refused with the fix.

The kill test runs the real command line in a subprocess that SIGKILLs itself at named steps of the build."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.encoders.base import sha256_file
from kbsuggest.errors import IndexCorruptError
from kbsuggest.index.manifest import FileRecord, Manifest
from kbsuggest.index.storage import MANIFEST, read_manifest, seal
from tests.conftest import (
    HASHING,
    HASHING_ENV,
    MARKERS,
    REFUND,
    RETURNS_ZH,
    SHIPPING,
    write_articles,
    write_versioned_kb,
)

REBUILD = r"kbsuggest build ARTICLES_DIR --index "
DATA_FILE = re.compile(r"[a-z-]+-[0-9a-f]{16}\.(json|npz|npy|faiss)")


def markers_in(kb: KnowledgeBase) -> set[str]:
    return {m for s in kb.sections for m in MARKERS if m in s.text}


def assert_whole_index(index: Path, allowed: set[str]) -> str:
    """The index loads, answers, and every section comes from one version, which is one of `allowed`."""
    kb = KnowledgeBase.load(index, settings=HASHING)
    found = markers_in(kb)
    assert len(found) == 1 and found <= allowed, found
    marker = found.pop()
    answers = kb.search("how long does a refunds request take", k=3)
    assert answers and all(marker in a.text for a in answers)
    assert kb.suggest("refunds timing").drafts[0].text
    return marker


KILLED_BUILD = """
import os, signal, sys
from pathlib import Path
import kbsuggest.index.build as build, kbsuggest.index.storage as storage, kbsuggest.kb as kb
from kbsuggest.cli import main
from kbsuggest.encoders.hashing import HashingEncoder

point, nth, articles, index = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
calls = 0

def killing(function, before=True, when=lambda *a, **k: True):
    def wrapper(*args, **kwargs):
        global calls
        if when(*args, **kwargs):
            calls += 1
        if before and calls == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        result = function(*args, **kwargs)
        if not before and calls == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    return wrapper

is_manifest = lambda src, dst: Path(dst).name == storage.MANIFEST
if point == "build":
    kb.build_index = killing(kb.build_index)
elif point == "encode":
    HashingEncoder.encode_documents = killing(HashingEncoder.encode_documents)
elif point == "write":
    storage.write_file = build.write_file = killing(storage.write_file)
elif point in ("manifest-before", "manifest-after"):
    os.replace = killing(os.replace, before=point == "manifest-before", when=is_manifest)
sys.exit(main(["build", articles, "--index", index, "--quiet"]))
"""
"""A `kbsuggest build` that SIGKILLs itself at the `nth` call of a named step: deterministic kill points."""
KILL_POINTS = [
    ("build", 1, "previous"),  # articles read and validated, nothing written
    ("encode", 2, "previous"),  # in the middle of encoding
    ("write", 1, "previous"),  # before the first data file of the new version
    ("write", 6, "previous"),  # some data files renamed into place, others not yet
    ("manifest-before", 1, "previous"),  # everything written but the manifest switch
    ("manifest-after", 1, "new"),  # switched, old files not yet removed
]


def test_a_build_killed_at_any_step_leaves_a_whole_index(tmp_path: Path) -> None:
    articles, index = tmp_path / "articles", tmp_path / "ix"
    write_versioned_kb(articles, MARKERS[0], articles=200)
    KnowledgeBase.build(articles, index, settings=HASHING)
    committed = MARKERS[0]
    for attempt, (point, nth, expected) in enumerate(KILL_POINTS, start=1):
        marker = MARKERS[attempt]
        write_versioned_kb(articles, marker, articles=200)  # every section changes: a full re-encode
        run = subprocess.run(
            [sys.executable, "-c", KILLED_BUILD, point, str(nth), str(articles), str(index)],
            env=HASHING_ENV,
            capture_output=True,
            timeout=120,
        )
        assert run.returncode == -signal.SIGKILL, (point, run.stderr.decode())  # the kill point was reached
        committed = marker if expected == "new" else committed
        assert assert_whole_index(index, {committed}) == committed, point

    # Leftovers of the killed builds neither break nor survive the next complete build. Plant a few more.
    (index / f".tmp-{os.getpid()}-{MANIFEST}").write_text('{"format_version": 1, "trunc', encoding="utf-8")
    (index / ".tmp-k1ll3d.faiss").write_bytes(b"\0" * 1000)
    (index / "sections-0123456789abcdef.json").write_text("[]", encoding="utf-8")  # an unreferenced orphan
    previous = manifest_of(index)
    final = MARKERS[0]
    write_versioned_kb(articles, final, articles=200)
    build = subprocess.run(
        [sys.executable, "-m", "kbsuggest.cli", "build", str(articles), "--index", str(index), "--quiet"],
        env=HASHING_ENV,
        capture_output=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr.decode()
    assert assert_whole_index(index, {final}) == final
    current = manifest_of(index)
    referenced = {r.name for r in current.files() + previous.files()}
    left = {p.name for p in index.iterdir()} - referenced - {MANIFEST, ".lock"}
    assert [name for name in left if name.startswith(".tmp-") or DATA_FILE.fullmatch(name)] == []


# --- damaged index files ---------------------------------------------------------------------------------------

ROLES = (
    "sections",
    "templates",
    "lexical",
    *(f"{encoder}-{view}" for encoder in ("dense", "multilingual") for view in ("path", "body")),
    *(f"{encoder}-tokens" for encoder in ("dense", "multilingual")),
    *(f"{encoder}-{view}-spans" for encoder in ("dense", "multilingual") for view in ("path", "body")),
)


def files_by_role(manifest: Manifest) -> dict[str, FileRecord]:
    roles = {"sections": manifest.sections_file, "templates": manifest.templates_file, "lexical": manifest.lexical_file}
    for name, record in manifest.encoders.items():
        for view, file in record.views.items():
            roles[f"{name}-{view}"] = file
        if record.tokens:
            (roles[f"{name}-tokens"],) = record.tokens.segments  # a full build writes one segment
            for view, file in record.tokens.spans.items():
                roles[f"{name}-{view}-spans"] = file
    return roles


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("damage")
    articles = write_articles(
        root / "articles", {"refunds.md": REFUND, "shipping.md": SHIPPING, "zh/returns-zh.md": RETURNS_ZH}
    )
    KnowledgeBase.build(articles, root / "ix", settings=HASHING)
    return root / "ix"


@pytest.fixture
def index(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ix"
    shutil.copytree(built, copy, ignore=shutil.ignore_patterns("feedback.sqlite*"))  # a live database: not data
    return copy


def manifest_of(index: Path) -> Manifest:
    manifest = read_manifest(index)
    assert manifest is not None
    return manifest


def edit_manifest(index: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Edit the manifest as a person with a text editor and this library's source would: content and checksum."""
    raw = json.loads((index / MANIFEST).read_text(encoding="utf-8"))
    del raw["checksum"]
    edit(raw)
    (index / MANIFEST).write_text(json.dumps(seal(raw)), encoding="utf-8")


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "missing":
        path.unlink()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "zeroed":  # a torn write: a block of NULs in the middle
        middle = len(data) // 2
        path.write_bytes(data[:middle] + b"\0" * 32 + data[middle + 32 :])
    elif how == "garbled":  # every bit of a block in the middle flipped
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 32]) + data[middle + 32 :])
    elif how == "flipped":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 0x01]))
    else:
        raise AssertionError(how)


def assert_refused_with_the_fix(index: Path) -> None:
    with pytest.raises(IndexCorruptError, match=REBUILD) as caught:
        KnowledgeBase.load(index, settings=HASHING)
    assert str(index) in str(caught.value)


def test_every_data_file_has_a_role(built: Path) -> None:
    assert set(files_by_role(manifest_of(built))) == set(ROLES)


@pytest.mark.parametrize("how", ["missing", "empty", "truncated", "garbled"])
@pytest.mark.parametrize("role", ROLES)
def test_a_damaged_data_file_is_refused_with_the_fix(index: Path, role: str, how: str) -> None:
    damage(index / files_by_role(manifest_of(index))[role].name, how)
    assert_refused_with_the_fix(index)


@pytest.mark.parametrize("how", ["empty", "truncated"])
@pytest.mark.parametrize("role", ROLES)
def test_a_damaged_file_whose_checksum_was_edited_to_match_is_refused(index: Path, role: str, how: str) -> None:
    """A manifest edited by hand: the checksum passes, so the readers themselves must refuse the file."""
    path = index / files_by_role(manifest_of(index))[role].name
    damage(path, how)

    def edit(node: Any) -> None:  # only this file's record: another file may hold the same bytes
        if isinstance(node, dict):
            if node.get("name") == path.name:
                node["sha256"] = sha256_file(path)
            for child in node.values():
                edit(child)
        elif isinstance(node, list):
            for child in node:
                edit(child)

    edit_manifest(index, edit)
    assert_refused_with_the_fix(index)


@pytest.mark.parametrize("how", ["empty", "truncated", "zeroed", "garbled"])
def test_a_damaged_manifest_is_refused_with_the_fix(index: Path, how: str) -> None:
    damage(index / MANIFEST, how)
    assert_refused_with_the_fix(index)


def test_every_changed_byte_of_the_manifest_is_refused_with_the_fix(index: Path) -> None:
    """Flipping the lowest bit of any byte: an article id, a locale (en -> em, which changed answers), a title,
    a path, a file hash, the format version, a key, the checksum itself, the JSON punctuation."""
    path = index / MANIFEST
    data = path.read_bytes()
    for position in range(len(data)):
        path.write_bytes(data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :])
        try:
            KnowledgeBase.load(index, settings=HASHING)
        except IndexCorruptError as exc:
            assert str(index) in str(exc) and REBUILD in str(exc), exc
        else:
            raise AssertionError(f"byte {position} ({data[position - 20 : position + 20]!r}) flipped: loaded")


@pytest.mark.parametrize(
    ("before", "after"),
    [('"id": "refunds"', '"id": "refundr"'), ('"locale": "en"', '"locale": "em"'), ('"dim": 64', '"dim": 65')],
)
def test_a_changed_value_in_the_manifest_is_refused_with_the_fix(index: Path, before: str, after: str) -> None:
    path = index / MANIFEST
    text = path.read_text(encoding="utf-8")
    assert before in text
    path.write_text(text.replace(before, after, 1), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=f"does not match its own checksum.*{REBUILD}"):
        KnowledgeBase.load(index, settings=HASHING)


def test_a_manifest_truncated_anywhere_is_refused_with_the_fix(index: Path) -> None:
    path = index / MANIFEST
    data = path.read_bytes()
    for length in (*range(0, len(data), 7), len(data) - 1):
        path.write_bytes(data[:length])
        with pytest.raises(IndexCorruptError, match=REBUILD):
            KnowledgeBase.load(index, settings=HASHING)


@pytest.mark.parametrize("change", ["missing key", "extra key", "article of an unknown id", "one section less"])
def test_a_manifest_edited_with_a_matching_checksum_is_refused_if_it_breaks_the_schema_or_the_data(
    index: Path, change: str
) -> None:
    """Not `KeyError`: the schema forbids missing and extra keys, and the manifest must describe the data."""

    def edit(raw: dict[str, Any]) -> None:
        if change == "missing key":
            del raw["encoders"]["dense"]["views"]
        elif change == "extra key":
            raw["articles"][0]["meta"]["owner"] = "x"
            raw["sections_file"]["size"] = 1
        elif change == "article of an unknown id":
            raw["articles"][0]["meta"]["id"] = "renamed"
        else:
            raw["sections"].pop()

    edit_manifest(index, edit)
    assert_refused_with_the_fix(index)


def test_a_manifest_with_its_files_swapped_is_refused_with_the_fix(index: Path) -> None:
    def swap(raw: dict[str, Any]) -> None:
        raw["sections_file"], raw["templates_file"] = raw["templates_file"], raw["sections_file"]

    edit_manifest(index, swap)
    assert_refused_with_the_fix(index)


def test_a_missing_manifest_is_no_index_with_the_fix(index: Path) -> None:
    damage(index / MANIFEST, "missing")
    with pytest.raises(IndexCorruptError, match=rf"holds no index; rebuild it with `{REBUILD}"):
        KnowledgeBase.load(index, settings=HASHING)


@pytest.mark.parametrize("role", ["sections", "dense-body", "dense-tokens", "lexical"])
def test_building_over_a_damaged_index_repairs_it(index: Path, role: str) -> None:
    damage(index / files_by_role(manifest_of(index))[role].name, "truncated")
    articles = index.parent / "articles"
    write_articles(articles, {"refunds.md": REFUND, "shipping.md": SHIPPING})
    kb = KnowledgeBase.build(articles, index, settings=HASHING)
    assert kb.last_build is not None and kb.last_build.reused == 0  # nothing trusted from the damaged index
    loaded = KnowledgeBase.load(index, settings=HASHING)
    assert loaded.sections == kb.sections and loaded.search("refund timing")

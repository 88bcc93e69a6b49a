"""Many knowledge bases in one process: a `Registry` maps names to index folders, loads each on its first
question, and unloads the least recently used ones while the loaded ones' memory is estimated over a budget.

What a loaded knowledge base costs is its own data alone (`KnowledgeBase.memory_bytes`): every one shares
the process's encoders (`Settings.encoders`) and ONNX Runtime sessions (one per export's sha256,
`kbsuggest.encoders.onnx.shared_onnx_encoder`). The surfaces (HTTP, tools, MCP) take a knowledge base by name
from here."""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kbsuggest.config import Settings
from kbsuggest.errors import InputError, UnknownKnowledgeBaseError
from kbsuggest.index.storage import MANIFEST
from kbsuggest.kb import KnowledgeBase

log = logging.getLogger(__name__)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A knowledge base's name: it appears in URLs (`/v1/kbs/{name}/...`) and tool arguments."""
NAMES_SHOWN = 20
"""An unknown name's error lists this many of the names served."""


def index_folders(root: Path) -> dict[str, Path]:
    """Every subfolder of `root` that holds an index, by folder name."""
    if not root.is_dir():
        raise InputError(f"{root} is not a folder. Fix: pass the folder that holds the index folders")
    found = {p.name: p for p in sorted(root.iterdir()) if (p / MANIFEST).is_file()}
    if not found:
        raise InputError(f"no index folder (with {MANIFEST}) in {root}. Fix: build indexes into its subfolders")
    return found


class Registry:
    """Knowledge bases by name (`indexes`: name -> index folder), loaded on first use and kept while their
    estimated memory (`KnowledgeBase.memory_bytes`, models aside) is within `budget_bytes` (default:
    `settings.memory_budget_mb`); past it the least recently used are unloaded, to be loaded again from disk
    when next asked for. At least the most recently used one stays loaded, whatever its size. Thread-safe:
    each knowledge base is loaded once however many threads ask for it at the same time."""

    def __init__(
        self,
        indexes: Mapping[str, Path | str],
        *,
        settings: Settings | None = None,
        budget_bytes: int | None = None,
        feedback: bool = True,
    ) -> None:
        bad = [name for name in indexes if not NAME.fullmatch(name)]
        if bad:
            raise InputError(
                f"knowledge base name {bad[0]!r} cannot be used. Fix: use 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        if not indexes:
            raise InputError("no knowledge base to serve. Fix: name at least one index folder")
        self.settings = settings or Settings.from_env()
        self.budget_bytes = budget_bytes if budget_bytes is not None else self.settings.memory_budget_mb << 20
        self._dirs = {name: Path(path) for name, path in sorted(indexes.items())}
        self._feedback = feedback
        self._loaded: OrderedDict[str, tuple[KnowledgeBase, int]] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()  # guards _loaded
        self._loading = {name: threading.Lock() for name in self._dirs}

    @classmethod
    def from_folder(cls, root: Path | str, **options: Any) -> Registry:
        """Every index folder in `root` (`index_folders`); `options` as `Registry`."""
        return cls(index_folders(Path(root)), **options)

    @property
    def names(self) -> tuple[str, ...]:
        """The names served, sorted."""
        return tuple(self._dirs)

    def __len__(self) -> int:
        return len(self._dirs)

    def __contains__(self, name: object) -> bool:
        return name in self._dirs

    def index_dir(self, name: str) -> Path:
        """The index folder of `name`; `UnknownKnowledgeBaseError` (naming those served) when not served."""
        if name not in self._dirs:
            shown = ", ".join(self.names[:NAMES_SHOWN])
            more = f" and {len(self) - NAMES_SHOWN} more" if len(self) > NAMES_SHOWN else ""
            raise UnknownKnowledgeBaseError(f"no knowledge base named {name!r}. Fix: use one of {shown}{more}")
        return self._dirs[name]

    def get(self, name: str) -> KnowledgeBase:
        """The knowledge base `name`, loaded now if it is not (`KbSuggestError` if its index cannot be used)."""
        index_dir = self.index_dir(name)
        found = self._touch(name)
        if found is not None:
            return found
        with self._loading[name]:
            found = self._touch(name)  # loaded by another thread while this one waited
            if found is None:
                found = KnowledgeBase.load(index_dir, settings=self.settings, feedback=self._feedback)
                self._keep(name, found)
            return found

    def reload(self, name: str) -> KnowledgeBase:
        """Load `name` from disk again and serve it from now on; if that fails, what was served still is."""
        index_dir = self.index_dir(name)
        with self._loading[name]:
            kb = KnowledgeBase.load(index_dir, settings=self.settings, feedback=self._feedback)
            self._keep(name, kb)
            return kb

    def loaded(self) -> list[str]:
        """The names loaded now, least recently used first."""
        with self._lock:
            return list(self._loaded)

    def memory_bytes(self) -> int:
        """The estimated memory of the knowledge bases loaded now."""
        with self._lock:
            return sum(size for _, size in self._loaded.values())

    def _touch(self, name: str) -> KnowledgeBase | None:
        with self._lock:
            entry = self._loaded.get(name)
            if entry is None:
                return None
            self._loaded.move_to_end(name)
            return entry[0]

    def _keep(self, name: str, kb: KnowledgeBase) -> None:
        """Hold `kb` as `name`, most recently used, then unload the least recently used while over the budget.
        A request still answering from an unloaded one finishes with it; its memory is freed after."""
        size = kb.memory_bytes()
        with self._lock:
            self._loaded[name] = (kb, size)
            self._loaded.move_to_end(name)
            total = sum(s for _, s in self._loaded.values())
            while total > self.budget_bytes and len(self._loaded) > 1:
                dropped, (_, freed) = self._loaded.popitem(last=False)
                total -= freed
                log.info("unloaded knowledge base %s (%d bytes) to stay within the memory budget", dropped, freed)

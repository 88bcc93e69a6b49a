"""Many knowledge bases in one process: a `Registry` serves the knowledge bases of a source by name (index
folders, `Folders`, or those published in a PostgreSQL database, `Published`), loads each on its first question,
and unloads the least recently used ones while the loaded ones' memory is estimated over a budget.

What a loaded knowledge base costs is its own data alone (`KnowledgeBase.memory_bytes`): every one shares
the process's encoders (`Settings.encoders`) and ONNX Runtime sessions (one per export's sha256,
`kbsuggest.encoders.onnx.shared_onnx_encoder`). The surfaces (HTTP, tools, MCP) take a knowledge base by name
from here."""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kbsuggest.config import Settings
from kbsuggest.errors import InputError, UnknownKnowledgeBaseError
from kbsuggest.index.storage import MANIFEST
from kbsuggest.kb import KnowledgeBase

if TYPE_CHECKING:  # the postgres extra: imported when a database is served
    from kbsuggest.database import Database

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


def check_names(names: Collection[str]) -> None:
    """`InputError` for a name that cannot be a knowledge base's (`NAME`)."""
    bad = [name for name in names if not NAME.fullmatch(name)]
    if bad:
        raise InputError(
            f"knowledge base name {bad[0]!r} cannot be used. Fix: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


class Served(Protocol):
    """A loaded knowledge base: `kb` answers now; `reload` loads it anew (the previous one serving if that fails);
    `close` is called when it is unloaded."""

    kb: KnowledgeBase

    def reload(self) -> KnowledgeBase: ...

    def close(self) -> None: ...


class Source(Protocol):
    """Where a registry's knowledge bases come from: their names, and each one loaded."""

    def names(self) -> tuple[str, ...]: ...

    def __contains__(self, name: str) -> bool: ...

    def open(self, name: str, settings: Settings, feedback: bool) -> Served: ...


class Folder:
    """The knowledge base in index folder `index_dir`, loaded now; `reload` loads it from disk again and replaces
    `kb` in one assignment."""

    def __init__(self, index_dir: Path, settings: Settings | None = None, feedback: bool = True) -> None:
        self.index_dir, self._settings, self._feedback = index_dir, settings, feedback
        self._reloading = threading.Lock()
        self.kb = KnowledgeBase.load(index_dir, settings=settings, feedback=feedback)

    def reload(self) -> KnowledgeBase:
        with self._reloading:
            self.kb = KnowledgeBase.load(self.index_dir, settings=self._settings, feedback=self._feedback)
            return self.kb

    def close(self) -> None:
        """Nothing to stop: a folder is read when loaded only."""


class Folders:
    """Index folders by name (`paths`), fixed when made."""

    def __init__(self, indexes: Mapping[str, Path | str]) -> None:
        check_names(indexes)
        if not indexes:
            raise InputError("no knowledge base to serve. Fix: name at least one index folder")
        self.paths = {name: Path(path) for name, path in sorted(indexes.items())}

    def names(self) -> tuple[str, ...]:
        return tuple(self.paths)

    def __contains__(self, name: str) -> bool:
        return name in self.paths

    def open(self, name: str, settings: Settings, feedback: bool) -> Folder:
        return Folder(self.paths[name], settings, feedback)


class Published:
    """The knowledge bases published in `database` (those of `only`, when given), looked up on every question
    about a name: one published later is served without a restart. Each loaded one is a `Replica`, kept current
    by the process's one follower of `database`. A name that cannot be in a URL (`NAME`) is not served."""

    def __init__(self, database: Database, only: Collection[str] | None = None) -> None:
        check_names(only or ())
        self.database = database
        self.only = frozenset(only) if only is not None else None

    def names(self) -> tuple[str, ...]:
        from kbsuggest.index.postgres import published

        return tuple(n for n in published(self.database) if self._servable(n))

    def __contains__(self, name: str) -> bool:
        from kbsuggest.index.postgres import current_version

        return self._servable(name) and current_version(self.database, name) is not None

    def open(self, name: str, settings: Settings, feedback: bool) -> Served:
        from kbsuggest.replica import Replica

        return Replica(self.database, name, settings=settings, feedback=feedback)

    def _servable(self, name: str) -> bool:
        return NAME.fullmatch(name) is not None and (self.only is None or name in self.only)


class Registry:
    """Knowledge bases by name, from `source` (a `Source`, or a mapping name -> index folder), loaded on first use
    and kept while their estimated memory (`KnowledgeBase.memory_bytes` of what each serves, models aside) is within
    `budget_bytes` (default: `settings.memory_budget_mb`); past it the least recently used are unloaded (and
    closed: a database's stops being followed), to be loaded again when next asked for. At least the most
    recently used one stays loaded, whatever its size. Thread-safe: each knowledge base is loaded once however
    many threads ask for it at the same time."""

    def __init__(
        self,
        source: Source | Mapping[str, Path | str],
        *,
        settings: Settings | None = None,
        budget_bytes: int | None = None,
        feedback: bool = True,
    ) -> None:
        self.source: Source = Folders(source) if isinstance(source, Mapping) else source
        self.settings = settings or Settings.from_env()
        self.budget_bytes = budget_bytes if budget_bytes is not None else self.settings.memory_budget_mb << 20
        self._feedback = feedback
        # name -> (what serves it, the knowledge base last measured, its size); least recently used first
        self._loaded: OrderedDict[str, tuple[Served, KnowledgeBase, int]] = OrderedDict()
        self._lock = threading.Lock()  # guards _loaded and _loading
        self._loading: dict[str, threading.Lock] = {}

    @classmethod
    def from_folder(cls, root: Path | str, **options: Any) -> Registry:
        """Every index folder in `root` (`index_folders`); `options` as `Registry`."""
        return cls(index_folders(Path(root)), **options)

    @classmethod
    def from_database(cls, database: Database, only: Collection[str] | None = None, **options: Any) -> Registry:
        """Every knowledge base published in `database`, or those named in `only` (`Published`); `options` as
        `Registry`."""
        return cls(Published(database, only), **options)

    @property
    def names(self) -> tuple[str, ...]:
        """The names served, sorted."""
        return self.source.names()

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            if name in self._loaded:
                return True
        return isinstance(name, str) and name in self.source

    def check(self, name: str) -> None:
        """`UnknownKnowledgeBaseError` (naming those served) when `name` is not served."""
        if name not in self:
            names = self.names
            more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
            fix = f"use one of {', '.join(names[:NAMES_SHOWN])}{more}" if names else "publish it (none is served yet)"
            raise UnknownKnowledgeBaseError(f"no knowledge base named {name!r}. Fix: {fix}")

    def get(self, name: str) -> KnowledgeBase:
        """The knowledge base `name`, loaded now if it is not (`KbSuggestError` if it cannot be used)."""
        found = self._touch(name)
        if found is not None:
            return found.kb
        self.check(name)
        with self._loading_lock(name):
            found = self._touch(name)  # loaded by another thread while this one waited
            if found is None:
                found = self.source.open(name, self.settings, self._feedback)
                self._keep(name, found)
            return found.kb

    def reload(self, name: str) -> KnowledgeBase:
        """Load `name` again and serve it from now on; if that fails, what was served still is."""
        self.check(name)
        with self._loading_lock(name):
            served = self._touch(name)
            if served is None:
                served = self.source.open(name, self.settings, self._feedback)
            else:
                served.reload()
            self._keep(name, served)
            return served.kb

    def loaded(self) -> list[str]:
        """The names loaded now, least recently used first."""
        with self._lock:
            return list(self._loaded)

    def memory_bytes(self) -> int:
        """The estimated memory of the knowledge bases loaded now."""
        with self._lock:
            return self._total()

    def close(self) -> None:
        """Unload every knowledge base (a database's stop being followed)."""
        with self._lock:
            unloaded = [served for served, _, _ in self._loaded.values()]
            self._loaded.clear()
        for served in unloaded:
            served.close()

    def _loading_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._loading.setdefault(name, threading.Lock())

    def _touch(self, name: str) -> Served | None:
        with self._lock:
            entry = self._loaded.get(name)
            if entry is None:
                return None
            self._loaded.move_to_end(name)
            return entry[0]

    def _total(self) -> int:
        """The loaded ones' estimated memory, measuring again those whose knowledge base changed since they were
        last measured (a replica that switched to another version); called holding `_lock`."""
        total = 0
        for name, (served, measured, size) in list(self._loaded.items()):
            if served.kb is not measured:
                measured = served.kb
                size = measured.memory_bytes()
                self._loaded[name] = (served, measured, size)
            total += size
        return total

    def _keep(self, name: str, served: Served) -> None:
        """Hold `served` as `name`, most recently used, then unload the least recently used while over the budget.
        A request still answering from an unloaded one finishes with it; its memory is freed after."""
        kb = served.kb
        size = kb.memory_bytes()
        unloaded = []
        with self._lock:
            self._loaded[name] = (served, kb, size)
            self._loaded.move_to_end(name)
            total = self._total()
            while total > self.budget_bytes and len(self._loaded) > 1:
                dropped, (gone, _, freed) = self._loaded.popitem(last=False)
                total -= freed
                unloaded.append(gone)
                log.info("unloaded knowledge base %s (%d bytes) to stay within the memory budget", dropped, freed)
        for gone in unloaded:
            gone.close()

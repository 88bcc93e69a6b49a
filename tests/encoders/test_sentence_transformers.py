"""What an install without the `build` extra says when asked to build (tests/integration/test_base_install.py:
what it still does)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import BUILD_EXTRA, run_cli


def test_build_without_the_build_extra_names_it(articles_dir: Path, tmp_path: Path) -> None:
    done = run_cli("build", articles_dir, "--index", tmp_path / "ix", absent=BUILD_EXTRA)
    assert done.returncode == 2
    assert done.stderr.decode().startswith("error: encoding with the model 'all-MiniLM-L6-v2' needs ")
    assert b"Fix: `pip install 'kbsuggest[build]'`" in done.stderr
    assert b"Traceback" not in done.stderr
    as_json = run_cli("build", articles_dir, "--index", tmp_path / "ix", "--json", absent=BUILD_EXTRA)
    error = json.loads(as_json.stdout)["error"]
    assert error["type"] == "ModelError" and "kbsuggest[build]" in error["message"]

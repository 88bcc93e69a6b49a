"""Install footprint: `pip install kbsuggest` (serves a built index) against `kbsuggest[build]` (builds one),
each into a new virtualenv with an empty pip cache, from this checkout's wheel. Prints wall time and size of
each, then checks the split for real: the build environment builds articles/, the base one answers from that
index (`search`, `suggest`) and refuses `build` naming the extra.

    .venv/bin/python benchmarks/bench_install.py [--torch-index-url URL] [--keep DIR]

Downloads every package (minutes); run it by hand, not in the tests. torch is installed first, pinned, as
the README says (`--torch-index-url https://download.pytorch.org/whl/cpu` where pip is not already set up to
find the CPU build).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"
MESSAGE = "where is my parcel? ordered 10 days ago"


def run(*command: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, env=env)


def checked(*command: str | Path) -> None:
    done = run(*command)
    if done.returncode:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{done.stdout}\n{done.stderr}")


def megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def install(venv: Path, steps: list[list[str]]) -> tuple[float, float, int]:
    """(seconds, MB, packages) of a new virtualenv at `venv` after `pip install` of each step in turn."""
    checked(sys.executable, "-m", "venv", venv)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-cache-dir"]
    started = time.perf_counter()
    for step in steps:
        checked(*pip, *step)
    seconds = time.perf_counter() - started
    listed = json.loads(run(venv / "bin" / "python", "-m", "pip", "list", "--format", "json").stdout)
    return seconds, megabytes(venv), len(listed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torch-index-url", help="where pip finds the CPU build of torch (default: pip's own)")
    parser.add_argument("--keep", type=Path, help="create the virtualenvs here and keep them (default: temporary)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="kbsuggest-install-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        checked(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", work / "wheel", ROOT)
        (wheel,) = (work / "wheel").glob("kbsuggest-*.whl")
        torch = [TORCH, "--index-url", args.torch_index_url] if args.torch_index_url else [TORCH]
        variants = {
            "pip install kbsuggest": (work / "base", [[str(wheel)]]),
            f"pip install {TORCH} (CPU), then kbsuggest[build]": (work / "build", [torch, [f"{wheel}[build]"]]),
        }
        rows = {name: install(venv, steps) for name, (venv, steps) in variants.items()}
        print("| install | time | size on disk | packages |\n|---|---|---|---|")
        for name, (seconds, size, packages) in rows.items():
            print(f"| `{name}` | {seconds:.0f} s | {size:.0f} MB | {packages} |")
        check_split(work / "base", work / "build", work / "index")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def check_split(base: Path, build: Path, index: Path) -> None:
    """The build environment builds the demo articles; the base one answers from them and refuses to build."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    checked(build / "bin" / "kbsuggest", "build", ROOT / "articles", "--index", index, "--quiet")
    for command in ("search", "suggest"):
        done = run(base / "bin" / "kbsuggest", command, MESSAGE, "--index", index, "--json", env=env)
        if done.returncode:
            raise SystemExit(f"the base install could not answer ({command}):\n{done.stderr}")
        output = json.loads(done.stdout)
        answers = output if command == "search" else output["answers"]
        print(f"base install, {command}: {answers[0]['article_id']}")
    refused = run(base / "bin" / "kbsuggest", "build", ROOT / "articles", "--index", index.with_name("x"), env=env)
    if refused.returncode != 2 or "kbsuggest[build]" not in refused.stderr:
        raise SystemExit(f"the base install's build did not name the extra:\n{refused.stderr}")
    print(f"base install, build: exit 2, {refused.stderr.strip()}")


if __name__ == "__main__":
    main()

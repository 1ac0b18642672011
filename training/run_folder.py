"""A training run: its recipe read from JSON, its folder, and the resumable checkpoint and history written there
atomically."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import torch

CHECKPOINT = "checkpoint.pt"
HISTORY = "history.json"
Recipe = TypeVar("Recipe")


def save_run_state(out: Path, state: dict[str, Any], history: Any) -> None:
    """``state`` to ``out/checkpoint.pt`` and ``history`` to ``out/history.json``; a crash mid-write leaves the
    previous files whole (each goes to a temporary name first, then replaces the old one)."""
    tmp = out / f".{CHECKPOINT}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, out / CHECKPOINT)
    tmp = out / f".{HISTORY}.tmp"
    tmp.write_text(json.dumps(history, indent=1))
    os.replace(tmp, out / HISTORY)


def start_run(out: Path, config: Any, threads: int | None) -> None:
    """Set torch's threads (when given), create ``out`` and write the recipe it runs to ``out/config.json``."""
    if threads:
        torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2))


def read_recipe(path: str | os.PathLike, recipe: type[Recipe], what: str) -> Recipe:
    """A recipe dataclass from a JSON file; a key the dataclass does not have is an error, not ignored."""
    data = json.loads(Path(path).read_text())
    unknown = set(data) - set(recipe.__dataclass_fields__)
    if unknown:
        raise ValueError(f"{path}: unknown {what} config keys {sorted(unknown)}")
    return recipe(**data)

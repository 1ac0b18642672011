"""Where the app runs: ZeroGPU's GPU decorator where it exists, out-of-memory handling, request limits and the
checks of names and repo ids that every request passes."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pipeline import PersonalStylePipeline

MAX_SIDE = 1024  # stylize: larger inputs are shrunk to this long side first (keeps CPU latency in seconds)


THUMB_SIDE = 160  # gallery thumbnails


MAX_SAMPLES = 20


MAX_EXTRA = 8  # content selfies and before/after pairs, each


QUALITIES = ("instant", "fast", "balanced", "best")


STYLE_NAME = re.compile(r"^[A-Za-z0-9][\w .-]{0,63}$")


REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


F = TypeVar("F", bound=Callable[..., Any])


try:  # ZeroGPU on Hugging Face Spaces: the decorated call gets a GPU for up to ``duration`` seconds
    import spaces

    def on_gpu(duration: int = 60) -> Callable[[F], F]:
        return spaces.GPU(duration=duration)

except ImportError:

    def on_gpu(duration: int = 60) -> Callable[[F], F]:
        return lambda fn: fn


class StudioError(ValueError):
    """A request the studio cannot serve; the message says what to change."""


OUT_OF_MEMORY = (
    "not enough memory for this request right now; try a smaller picture or fewer samples, or try again in a minute"
)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for the ways running out of memory surfaces: ``MemoryError``, ``torch.OutOfMemoryError`` (CUDA), and
    the ``RuntimeError`` of a failed CPU/MPS allocation ("DefaultCPUAllocator: can't allocate memory")."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        hint in text for hint in ("out of memory", "can't allocate memory", "not enough memory")
    )


def free_memory() -> None:
    """Release what a failed request left behind (Python garbage, the CUDA cache) so the next one can run."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def check_style_name(name: str, pipe: PersonalStylePipeline) -> str:
    name = (name or "").strip()
    if not STYLE_NAME.match(name):
        raise StudioError("give the style a name: 1–64 letters, digits, spaces, '.', '_' or '-'")
    if name in pipe.styles:
        raise StudioError(f"{name!r} is a built-in style; choose another name")
    return name


def check_repo_id(repo_id: str) -> str:
    repo_id = (repo_id or "").strip()
    if not repo_id:
        raise StudioError("type a Hub repo id first, like 'user-or-org/style-name'")
    if not REPO_ID.match(repo_id):
        raise StudioError(f"{repo_id!r} is not a Hub repo id; it looks like 'user-or-org/style-name'")
    return repo_id

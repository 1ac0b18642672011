"""The work behind the Gradio app (``app.py``): plain functions of a pipeline, PIL images and styles.

Nothing here imports gradio; the UI turns uploads into paths, calls these functions and turns the exceptions they
raise (:class:`~studio.runtime.StudioError`, :class:`~pipeline.images.ImageError`,
:class:`~pipeline.style.StyleError`, ``ValueError``) into readable messages. The GPU-bound functions carry
:func:`~studio.runtime.on_gpu`.
"""

from __future__ import annotations

import dataclasses
import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from pipeline import PersonalStyle, PersonalStylePipeline, StyleError
from pipeline.images import fit_long_side
from pipeline.pipeline import PHOTO
from pipeline.style import mix_styles

from .charts import metrics_chart, metrics_table
from .runtime import MAX_EXTRA, MAX_SAMPLES, QUALITIES, THUMB_SIDE, StudioError, check_repo_id, check_style_name, on_gpu


def resolve_style(
    pipe: PersonalStylePipeline,
    name: str,
    session_styles: dict[str, PersonalStyle],
    mix_with: str | None = None,
    mix_ratio: float = 0.0,
) -> PersonalStyle:
    """A style by name (this session's styles first, then the built-in bank: the pipeline's resolver, never a
    folder), optionally mixed with a second one: ``mix_ratio`` in [0, 1] is the second style's share."""
    if not name:
        raise StudioError("pick a style first")
    if not (mix_with and mix_ratio > 0):
        return pipe.resolve_style(name, session=session_styles)
    if not 0.0 <= mix_ratio <= 1.0:
        raise StudioError(f"the mix ratio must be in [0, 1], got {mix_ratio}")
    first, second = (pipe.resolve_style(n, session=session_styles) for n in (name, mix_with))
    label = f"{(1 - mix_ratio):.0%} {first.name} + {mix_ratio:.0%} {second.name}"
    return pipe.resolve_style(mix_styles([(first, 1.0 - mix_ratio), (second, mix_ratio)], name=label))


# --- stylize and metrics ---------------------------------------------------------------------------------------
@dataclass
class StylizeResult:
    """``image``: the stylised picture; ``metrics``: the pipeline's metric dict; ``table``/``chart``: the same
    as data frames for the UI."""

    image: Image.Image
    metrics: dict[str, Any]
    table: pd.DataFrame
    chart: pd.DataFrame


@on_gpu(duration=30)
def stylize(
    pipe: PersonalStylePipeline,
    image: Image.Image,
    style: PersonalStyle,
    strength: float = 1.0,
    preserve_color: bool = False,
    face_protect: float = 0.0,
    mask: Image.Image | None = None,
) -> StylizeResult:
    """Restyle one image and measure it; ``face_protect``/``mask`` go to the pipeline only when set."""
    extra: dict[str, Any] = {}
    if face_protect:
        extra["face_protect"] = float(face_protect)
    if mask is not None:
        extra["mask"] = mask
    out = pipe(image, style=style, strength=float(strength), preserve_color=bool(preserve_color), **extra)
    metrics = out.metrics[0]
    return StylizeResult(out.images[0], metrics, metrics_table(metrics), metrics_chart(metrics))


def style_gallery(
    pipe: PersonalStylePipeline, portrait: Image.Image, side: int = THUMB_SIDE
) -> list[tuple[Image.Image, str]]:
    """Every built-in style applied to a small copy of ``portrait``: [(thumbnail, style name)]. Build once at
    launch; on CPU it costs about one small forward pass per style."""
    small = fit_long_side(portrait.convert("RGB"), side)
    return [(pipe(small, style=name, metrics=False).images[0], name) for name in look_names(pipe)]


def look_names(pipe: PersonalStylePipeline) -> list[str]:
    """The built-in styles a visitor picks from: the bank without 'photo' (the unchanged picture)."""
    return [name for name in pipe.styles if name != PHOTO]


# --- learning ------------------------------------------------------------------------------------------------
@on_gpu(duration=30)
def zero_shot_preview(
    pipe: PersonalStylePipeline, samples: Sequence[Image.Image], portrait: Image.Image
) -> tuple[Image.Image, dict[str, float]]:
    """The instant look of ``samples`` (no training) on ``portrait`` -> (image, the mix of bank looks it is)."""
    from pipeline.learn import zero_shot_style

    if not samples:
        raise StudioError("upload at least one style sample")
    style = zero_shot_style(pipe, list(samples), content=[portrait], name="preview")
    return pipe(portrait, style=style, metrics=False).images[0], dict(style.metadata["mix"])


def instant_name(name: str) -> str:
    """The session name of a learned style's zero-shot start, kept beside it so the visitor can pick either."""
    return f"{name}-instant"


def sample_thumbnails(samples: Sequence[Image.Image], side: int = THUMB_SIDE) -> list[Image.Image]:
    """Small copies of the style samples, to show the visitor what was uploaded (long side ``side``)."""
    return [fit_long_side(sample.convert("RGB"), side) for sample in samples]


@dataclass
class LearnUpdate:
    """One report from :func:`learn_stream`: progress after ``step`` of ``total``; ``style`` is set on the last."""

    step: int
    total: int
    losses: dict[str, float]
    preview: Image.Image | None
    elapsed: float
    style: PersonalStyle | None = None
    withheld: int = 0  # samples the run validates on (0: its own)
    pace_from: tuple[int, float] | None = None  # (step, elapsed) of the run's first step: the pace is measured after

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace of the steps since the first one (the first also pays for the setup: loading,
        targets, the start's validation), or None until two steps have been timed."""
        if self.pace_from is None or self.total <= 0 or self.step <= self.pace_from[0]:
            return None
        step0, elapsed0 = self.pace_from
        return (self.elapsed - elapsed0) / (self.step - step0) * max(self.total - self.step, 0)


def check_learn_inputs(
    samples: Sequence[Image.Image], content: Sequence[Image.Image], pairs: Sequence[tuple[Image.Image, Image.Image]]
) -> None:
    if not 1 <= len(samples) <= MAX_SAMPLES:
        raise StudioError(f"upload 1–{MAX_SAMPLES} style samples (got {len(samples)})")
    if len(content) > MAX_EXTRA or len(pairs) > MAX_EXTRA:
        raise StudioError(f"at most {MAX_EXTRA} selfies and {MAX_EXTRA} before/after pairs")


@on_gpu(duration=300)
def learn_stream(
    pipe: PersonalStylePipeline,
    samples: Sequence[Image.Image],
    *,
    name: str,
    quality: str = "fast",
    content: Sequence[Image.Image] = (),
    pairs: Sequence[tuple[Image.Image, Image.Image]] = (),
    steps: int | None = None,
    size: int | None = None,
    seed: int = 0,
    stop: threading.Event | None = None,
) -> Iterator[LearnUpdate]:
    """Run ``pipe.learn_style`` in a worker thread and yield a :class:`LearnUpdate` per reported step, then a
    last one carrying the style, named ``name``. Setting ``stop`` (or closing this generator) ends the
    loop at its next step; learn_style then returns the best style so far."""
    if quality not in QUALITIES:
        raise StudioError(f"quality must be one of {', '.join(QUALITIES)}, got {quality!r}")
    check_learn_inputs(samples, content, pairs)
    from pipeline.learn import preset, withheld_count

    stop = stop or threading.Event()
    updates: queue.Queue[LearnUpdate | None] = queue.Queue()
    outcome: dict[str, Any] = {}
    start = time.monotonic()
    config = preset(quality, steps, size)  # as learn_style makes it, to draw the bar before the run ends
    withheld = withheld_count(len(samples), config.holdout)
    first: list[tuple[int, float]] = []

    def report(step: int, total: int, losses: dict[str, float], preview: Image.Image | None) -> bool:
        elapsed = time.monotonic() - start
        if step >= 1 and not first:
            first.append((step, elapsed))
        values = {term: float(value) for term, value in losses.items()}
        updates.put(LearnUpdate(step, total, values, preview, elapsed, None, withheld, first[0] if first else None))
        return stop.is_set()

    kwargs = dict(quality=quality, seed=seed, content=list(content) or None, pairs=list(pairs) or None)
    kwargs.update(steps=steps, size=size, callback=report, name=name)
    worker = threading.Thread(
        target=_learn_in_thread, args=(pipe, list(samples), kwargs, outcome, updates), name="learn-style", daemon=True
    )
    worker.start()
    last = LearnUpdate(0, steps or 0, {}, None, 0.0)
    try:
        while (update := updates.get()) is not None:
            last = update
            yield update
    except GeneratorExit:  # closed early (the UI went away): stop the loop at its next step
        stop.set()
        raise
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    yield dataclasses.replace(last, elapsed=time.monotonic() - start, style=outcome["style"])


def _learn_in_thread(
    pipe: PersonalStylePipeline, samples: list, kwargs: dict[str, Any], outcome: dict[str, Any], updates: queue.Queue
) -> None:
    """``pipe.learn_style`` in the worker thread: its style or its error goes to ``outcome``, then None to
    ``updates`` (the stream's end)."""
    try:
        outcome["style"] = pipe.learn_style(samples, **kwargs)
    except Exception as exc:  # re-raised in the caller's thread
        outcome["error"] = exc
    finally:
        updates.put(None)


# --- the Hub ---------------------------------------------------------------------------------------------------
def load_hub_style(pipe: PersonalStylePipeline, repo_id: str, token: str | None = None) -> PersonalStyle:
    """A style repo from the Hub (never a local path: the id is checked first), checked against ``pipe``.

    Loads with the visitor's own ``token`` or anonymously, never with the server's ``HF_TOKEN``.
    """
    from pipeline.hub import HubError, download_style

    repo_id = check_repo_id(repo_id)
    try:
        folder = download_style(repo_id, token=token or False)
    except HubError as exc:
        raise StudioError(str(exc)) from None
    try:
        style = PersonalStyle.load_folder(folder)
    except StyleError as exc:  # name the repo, not the server's cache folder
        raise StyleError(str(exc).replace(str(folder), repo_id)) from None
    pipe.check_style(style)
    return style


def style_zip(style: PersonalStyle, folder: Path) -> str:
    """``style`` as ``<folder>/<name>.zip`` (written atomically) -> its path."""
    from pipeline.style_archive import write_style_archive

    safe = re.sub(r"[^\w.-]+", "-", style.name).strip(".-") or "style"
    return str(write_style_archive(style, folder / f"{safe}.zip"))


def load_style_zip(pipe: PersonalStylePipeline, path: str, folder: Path) -> PersonalStyle:
    """A style from an uploaded .zip, every member checked (``pipeline/style_archive.py``), extracted under
    ``folder`` and checked against ``pipe``."""
    from pipeline.style_archive import read_style_archive

    style = read_style_archive(path, folder / "uploaded-styles")
    pipe.check_style(style)
    check_style_name(style.name, pipe)
    return style


def push_style(style: PersonalStyle, repo_id: str, token: str, private: bool = False) -> str:
    """Upload ``style`` to ``repo_id`` with ``token`` (required: never the server's own) -> the repo URL.
    The token is not stored, logged or returned, and is masked in error messages."""
    from pipeline.hub import HubError

    repo_id = check_repo_id(repo_id)
    if not token:
        raise StudioError("sign in with Hugging Face, or paste a write token, to push")
    try:
        return style.push_to_hub(repo_id, token=token, private=bool(private))
    except HubError as exc:
        raise StudioError(str(exc).replace(token, "•••")) from None

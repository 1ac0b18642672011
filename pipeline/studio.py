"""The work behind the Gradio app (``app.py``): plain functions of a pipeline, PIL images and styles.

Nothing here imports gradio; ``app.py`` turns uploads into paths, calls these functions and turns the
exceptions they raise (:class:`StudioError`, :class:`~pipeline.images.ImageError`,
:class:`~pipeline.style.StyleError`, ``ValueError``) into ``gr.Error`` messages.

The GPU-bound functions carry :func:`on_gpu`, which is ZeroGPU's ``spaces.GPU`` where the ``spaces``
package is installed (Hugging Face Spaces) and does nothing elsewhere.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import os
import queue
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from PIL import Image

from .images import MAX_PIXELS, ImageError, fit_long_side, load_image
from .pipeline import METRIC_TAPS, PersonalStylePipeline
from .style import PersonalStyle, StyleError, mix_styles

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


class SessionFiles:
    """Each visitor's files: outputs under ``root/<random token>/`` and the uploads the visitor sent, removed by
    :meth:`close` when the session ends and by :meth:`sweep` once older than ``max_age`` seconds.

    The token (128 random bits) keeps one session's outputs unguessable to another; uploads shared by two
    sessions (the same bytes give the same server path) are removed when the last of them closes.
    """

    def __init__(self, root: str | os.PathLike, max_age: float = 3600.0) -> None:
        self.root = Path(root)
        self.max_age = max_age
        self._folders: dict[str, Path] = {}
        self._uploads: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def folder(self, session: str) -> Path:
        """The session's private folder (created on first use; older folders of ended sessions are swept)."""
        with self._lock:
            if session not in self._folders:
                self.root.mkdir(parents=True, exist_ok=True)
                folder = self.root / secrets.token_hex(16)
                folder.mkdir(mode=0o700)
                self._folders[session] = folder
                fresh = True
            else:
                fresh = False
            folder = self._folders[session]
        if fresh:
            self.sweep()
        return folder

    def save(self, session: str, image: Image.Image, stem: str = "result") -> str:
        """Write ``image`` as PNG into the session's folder, atomically (never a half-written file) -> its path."""
        folder = self.folder(session)
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".png", dir=folder)
        os.close(fd)
        try:
            image.save(tmp, "PNG")
            path = folder / f"{stem}-{secrets.token_hex(4)}.png"
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return str(path)

    def track_uploads(self, session: str, paths: Sequence[str]) -> None:
        """Remember that ``session`` sent these uploaded files (removed with the session)."""
        with self._lock:
            self._uploads.setdefault(session, set()).update(map(str, paths))

    def close(self, session: str) -> None:
        """Delete the session's folder and the uploads no other open session holds."""
        with self._lock:
            folder = self._folders.pop(session, None)
            uploads = self._uploads.pop(session, set())
            held = set().union(*self._uploads.values()) if self._uploads else set()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        for path in uploads - held:
            _remove_upload(Path(path))

    def sweep(self) -> None:
        """Remove session folders (and the sessions' records) not touched for ``max_age`` seconds."""
        cutoff = time.time() - self.max_age
        with self._lock:
            stale = [s for s, f in self._folders.items() if _mtime(f) < cutoff]
            for session in stale:
                self._folders.pop(session)
            known = set(self._folders.values())
        for folder in self.root.iterdir() if self.root.is_dir() else ():
            if folder not in known and folder.is_dir() and _mtime(folder) < cutoff:
                shutil.rmtree(folder, ignore_errors=True)

    def sessions(self) -> int:
        with self._lock:
            return len(self._folders.keys() | self._uploads.keys())


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _remove_upload(path: Path) -> None:
    """Delete an uploaded file and its folder when that is left empty (the server keeps one folder per upload)."""
    try:
        path.unlink()
        path.parent.rmdir()
    except OSError:
        pass


# --- inputs ----------------------------------------------------------------------------------------------------
def load_upload(path: str | Path, name: str | None = None, max_side: int | None = None) -> Image.Image:
    """An uploaded file -> RGB PIL image (shrunk to ``max_side`` if given); errors name the upload, not the
    server path."""
    label = name or Path(path).name
    try:
        image = load_image(str(path))
    except ImageError as exc:
        raise ImageError(str(exc).replace(str(path), label)) from None
    return fit_long_side(image, max_side) if max_side else image


def load_region(paths: Sequence[str | Path]) -> Image.Image | None:
    """Painted layers (RGBA files, e.g. from an image editor) -> one RGBA image of the strokes, or None when
    nothing is painted. Strokes mark where the style goes (``images.load_mask`` reads luminance x alpha)."""
    region = None
    for path in paths:
        try:
            with Image.open(path) as layer:
                if layer.width * layer.height > MAX_PIXELS:
                    raise ImageError(f"the painted region is {layer.width}x{layer.height}; too large")
                layer = layer.convert("RGBA")
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"could not read the painted region ({type(exc).__name__})") from None
        region = layer if region is None else Image.alpha_composite(region, layer.resize(region.size))
    if region is None or region.getchannel("A").getextrema()[1] == 0:
        return None
    return region


def check_style_name(name: str, pipe: PersonalStylePipeline) -> str:
    name = (name or "").strip()
    if not STYLE_NAME.match(name):
        raise StudioError("give the style a name: 1–64 letters, digits, spaces, '.', '_' or '-'")
    if name in pipe.styles:
        raise StudioError(f"{name!r} is a built-in style; choose another name")
    return name


def check_repo_id(repo_id: str) -> str:
    repo_id = (repo_id or "").strip()
    if not REPO_ID.match(repo_id):
        raise StudioError(f"{repo_id!r} is not a Hub repo id; it looks like 'user-or-org/style-name'")
    return repo_id


def resolve_style(
    pipe: PersonalStylePipeline,
    name: str,
    session_styles: dict[str, PersonalStyle],
    mix_with: str | None = None,
    mix_ratio: float = 0.0,
) -> PersonalStyle:
    """A style by name (this session's styles first, then the built-in bank), optionally mixed with a second
    one: ``mix_ratio`` in [0, 1] is the second style's share."""

    def by_name(style_name: str) -> PersonalStyle:
        if style_name in session_styles:
            return session_styles[style_name]
        if style_name in pipe.styles:
            return pipe.styles[style_name]
        raise StyleError(f"unknown style {style_name!r}; pick one from the list")

    if not name:
        raise StudioError("pick a style first")
    style = by_name(name)
    if mix_with and mix_ratio > 0:
        if not 0.0 <= mix_ratio <= 1.0:
            raise StudioError(f"the mix ratio must be in [0, 1], got {mix_ratio}")
        second = by_name(mix_with)
        label = f"{(1 - mix_ratio):.0%} {style.name} + {mix_ratio:.0%} {second.name}"
        style = mix_styles([(style, 1.0 - mix_ratio), (second, mix_ratio)], name=label)
    pipe.check_style(style)
    return style


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


def _sig(value: float) -> float:
    return float(f"{value:.4g}") if math.isfinite(value) else value


def distance_table(series: dict[str, dict[str, float]]) -> pd.DataFrame:
    """``{image label: {tap: relative Gram distance}}`` -> one row per tap, one column per image label."""
    taps = list(next(iter(series.values()), {}))
    rows = [{"measure": f"style distance · {tap}", **{k: _sig(v[tap]) for k, v in series.items()}} for tap in taps]
    return pd.DataFrame(rows, columns=["measure", *series])


def distance_chart(series: dict[str, dict[str, float]]) -> pd.DataFrame:
    """The same in long format for a bar chart: one bar per (tap, image label), coloured by ``image``."""
    taps = list(next(iter(series.values()), {}))
    rows = [{"bar": f"{tap} {k}", "image": k, "distance": _sig(v[tap])} for tap in taps for k, v in series.items()]
    return pd.DataFrame(rows, columns=["bar", "image", "distance"])


def chart_order(*labels: str) -> list[str]:
    """The bars of :func:`distance_chart` in reading order: layer by layer, ``labels`` in the order given."""
    return [f"{tap} {label}" for tap in METRIC_TAPS for label in labels]


def _stylize_series(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {"input": metrics.get("input_style_loss", {}), "output": metrics.get("style_loss", {})}


def metrics_table(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per Gram layer (the input's and the output's relative distance to the style; lower = closer)
    and a content row (distance to the input's relu2_2 features: 0 for the input itself)."""
    table = distance_table(_stylize_series(metrics))
    if "content_loss" in metrics:
        content = {"measure": "content distance · relu2_2", "input": 0.0, "output": _sig(metrics["content_loss"])}
        table = pd.concat([table, pd.DataFrame([content])], ignore_index=True)
    return table


def metrics_chart(metrics: dict[str, Any]) -> pd.DataFrame:
    """Bars of the input's and the output's distance to the style, per layer."""
    return distance_chart(_stylize_series(metrics))


def learned_metrics(style: PersonalStyle) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table, chart) of a learned style's own metrics: the learning content's distance to the samples' Gram
    targets as it is, after the zero-shot start, and after learning."""
    metrics = style.metadata.get("metrics", {})
    labels = {"input": "input_style_loss", "zero-shot": "zero_shot_style_loss", "learned": "style_loss"}
    series = {label: metrics[key] for label, key in labels.items() if isinstance(metrics.get(key), dict)}
    return distance_table(series), distance_chart(series)


def style_gallery(
    pipe: PersonalStylePipeline, portrait: Image.Image, side: int = THUMB_SIDE
) -> list[tuple[Image.Image, str]]:
    """Every built-in style applied to a small copy of ``portrait``: [(thumbnail, style name)]. Build once at
    launch; on CPU it costs about one small forward pass per style."""
    small = fit_long_side(portrait.convert("RGB"), side)
    return [(pipe(small, style=name, metrics=False).images[0], name) for name in pipe.styles]


# --- learning ------------------------------------------------------------------------------------------------
@on_gpu(duration=30)
def zero_shot_preview(
    pipe: PersonalStylePipeline, samples: Sequence[Image.Image], portrait: Image.Image
) -> tuple[Image.Image, dict[str, float]]:
    """The instant look of ``samples`` (no training) on ``portrait`` -> (image, the mix of bank looks it is)."""
    from .learn import zero_shot_style

    if not samples:
        raise StudioError("upload at least one style sample")
    style = zero_shot_style(pipe, list(samples), content=[portrait], name="preview")
    return pipe(portrait, style=style, metrics=False).images[0], dict(style.metadata["mix"])


def describe_mix(mix: Mapping[str, float]) -> str:
    """A zero-shot mix in words, largest share first: ``{"noir": 0.3, "pencil": 0.7}`` -> "70% pencil, 30% noir"
    (shares under 0.5 % are left out)."""
    ranked = sorted(mix.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{weight:.0%} {look}" for look, weight in ranked if weight >= 0.005)


def judge(withheld: int) -> str:
    """What a learning run's validation scores against: ``withheld`` samples, or (0) the ones it fits."""
    return {0: "your samples", 1: "the withheld sample"}.get(withheld, f"the {withheld} withheld samples")


def describe_kept(metadata: Mapping[str, Any], last_step: int) -> str:
    """Which checkpoint a learning run returned, in words ("" when it is the last step); the instant mix only
    when no step could be validated (the run diverged or stopped at once)."""
    kept = metadata.get("kept_step")
    if kept == 0 and last_step:
        return "Learning did not produce a usable step, so you get the instant mix."
    if kept is not None and kept != last_step:
        return f"Kept step {kept}, the best on {judge(metadata.get('withheld') or 0)}."
    return ""


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

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far, or None before the first step."""
        if self.step <= 0 or self.total <= 0:
            return None
        return self.elapsed / self.step * max(self.total - self.step, 0)


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
    from .learn import preset, withheld_count

    stop = stop or threading.Event()
    updates: queue.Queue[LearnUpdate | None] = queue.Queue()
    outcome: dict[str, Any] = {}
    start = time.monotonic()
    config = preset(quality, steps, size)  # as learn_style makes it, to draw the bar before the run ends
    withheld = withheld_count(len(samples), config.holdout)

    def report(step: int, total: int, losses: dict[str, float], preview: Image.Image | None) -> bool:
        values = {term: float(value) for term, value in losses.items()}
        updates.put(LearnUpdate(step, total, values, preview, time.monotonic() - start, None, withheld))
        return stop.is_set()

    def work() -> None:
        try:
            outcome["style"] = pipe.learn_style(
                list(samples),
                quality=quality,
                seed=seed,
                content=list(content) or None,
                pairs=list(pairs) or None,
                steps=steps,
                size=size,
                callback=report,
                name=name,
            )
        except Exception as exc:  # re-raised in the caller's thread below
            outcome["error"] = exc
        finally:
            updates.put(None)

    worker = threading.Thread(target=work, name="learn-style", daemon=True)
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


HISTORY_COLUMNS = ["step", "line", "relative"]


def loss_history(updates: Sequence[LearnUpdate]) -> pd.DataFrame:
    """Long format for a line plot of how learning goes against the instant mix: the validation objective (what
    decides which checkpoint is returned) relative to the zero-shot start's, so the start is 1. Empty for a run
    without steps (the instant quality) or before the start is validated. The training terms are left out: they
    jump with the random crops."""
    validated = [
        (u.step, u.losses["validation"]) for u in updates if math.isfinite(u.losses.get("validation", math.nan))
    ]
    if not updates or not updates[-1].total or not validated or validated[0][0] != 0:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    line = judge(updates[-1].withheld)
    start = abs(validated[0][1]) or 1.0
    return pd.DataFrame(
        [{"step": step, "line": line, "relative": value / start} for step, value in validated], columns=HISTORY_COLUMNS
    )


# --- the Hub ---------------------------------------------------------------------------------------------------
def load_hub_style(pipe: PersonalStylePipeline, repo_id: str, token: str | None = None) -> PersonalStyle:
    """A style repo from the Hub (never a local path: the id is checked first), checked against ``pipe``.

    Loads with the visitor's own ``token`` or anonymously, never with the server's ``HF_TOKEN``.
    """
    from .hub import HubError, download_style

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
    from .style_archive import write_style_archive

    safe = re.sub(r"[^\w.-]+", "-", style.name).strip(".-") or "style"
    return str(write_style_archive(style, folder / f"{safe}.zip"))


def load_style_zip(pipe: PersonalStylePipeline, path: str, folder: Path) -> PersonalStyle:
    """A style from an uploaded .zip, every member checked (``pipeline/style_archive.py``), extracted under
    ``folder`` and checked against ``pipe``."""
    from .style_archive import read_style_archive

    style = read_style_archive(path, folder / "uploaded-styles")
    pipe.check_style(style)
    check_style_name(style.name, pipe)
    return style


def push_style(style: PersonalStyle, repo_id: str, token: str, private: bool = False) -> str:
    """Upload ``style`` to ``repo_id`` with ``token`` (required: never the server's own) -> the repo URL.
    The token is not stored, logged or returned, and is masked in error messages."""
    from .hub import HubError

    repo_id = check_repo_id(repo_id)
    if not token:
        raise StudioError("sign in with Hugging Face, or paste a write token, to push")
    try:
        return style.push_to_hub(repo_id, token=token, private=bool(private))
    except HubError as exc:
        raise StudioError(str(exc).replace(token, "•••")) from None

"""Glue between Gradio and the studio: uploads in (checked, never trusted), readable errors out."""

from __future__ import annotations

import base64
import functools
import inspect
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import gradio.utils as gradio_utils
from PIL import Image

import studio
from pipeline import PersonalStyle, PersonalStylePipeline, load_image
from pipeline.images import ImageError
from pipeline.style import StyleError

NO_MIX = ("none", "")


EDITS = ("upload", "delete", "clear")  # a file list's events that change what it holds


logger = logging.getLogger("personal_style_studio")


def readable_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure of a handler (a function or a generator) into a ``gr.Error`` with a plain message."""

    def translate(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if studio.is_out_of_memory(exc):
            studio.free_memory()
            logger.warning("out of memory in %s: %s", fn.__name__, type(exc).__name__)
            return gr.Error(studio.OUT_OF_MEMORY[0].upper() + studio.OUT_OF_MEMORY[1:] + ".", print_exception=False)
        if isinstance(exc, (ImageError, StyleError, studio.StudioError, ValueError)):
            message = str(exc)
            logger.info("refused in %s: %s", fn.__name__, " ".join(message.split()))  # one line, no traceback
            return gr.Error(message, print_exception=False)
        logger.exception("unexpected failure in %s", fn.__name__)
        return gr.Error(f"Something went wrong ({type(exc).__name__}); please try again.", print_exception=False)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                raise translate(exc) from None

        return stream

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise translate(exc) from None

    return call


def upload_paths(value: Any) -> list[tuple[str, str]]:
    """:func:`uploads` for bookkeeping: the same pairs, nothing for a value it cannot read."""
    try:
        return uploads(value)
    except ImageError:
        return []


def server_upload(path: str) -> str:
    """``path`` if it lies in the server's upload folder (uploads, cached examples); a client naming any other
    server file as its upload (``{"path": "/etc/passwd"}`` through the API) gets an error, not the file read."""
    if not Path(path).resolve().is_relative_to(Path(gradio_utils.get_upload_folder()).resolve()):
        raise ImageError(f"{Path(path).name}: not an uploaded file; please upload the image again")
    return path


def uploads(value: Any) -> list[tuple[str, str]]:
    """A raw (not preprocessed) upload value -> [(server path, name the user gave it)]."""
    if value is None:
        return []
    if isinstance(value, list):
        return [item for v in value for item in uploads(v)]
    if isinstance(value, str):
        return [(server_upload(value), Path(value).name)]
    if isinstance(value, dict) and value.get("path"):
        return [(server_upload(value["path"]), value.get("orig_name") or Path(value["path"]).name)]
    if isinstance(value, dict) and str(value.get("url", "")).startswith("data:"):
        return [(value["url"], "webcam image")]
    raise ImageError("could not read the upload; please upload the image again")


def upload_images(value: Any, max_side: int | None = None) -> list[Image.Image]:
    """The uploaded pictures; what loading them noticed (an animated GIF's first frame used, an unusable colour
    profile ignored) is shown to the visitor as a warning, naming the file they gave."""
    images = []
    for path, name in uploads(value):
        with warnings.catch_warnings(record=True) as noticed:
            warnings.simplefilter("always")
            if path.startswith("data:"):
                images.append(load_image(base64.b64decode(path.partition(",")[2])))
            else:
                images.append(studio.load_upload(path, name, max_side))
        for warning in noticed:
            text = str(warning.message).replace(path, name).split(": ", 1)[-1]
            gr.Warning(f"{name}: {text}")
    return images


def upload_image(value: Any, what: str = "a selfie", max_side: int | None = None) -> Image.Image:
    images = upload_images(value, max_side)
    if not images:
        raise studio.StudioError(f"upload {what} first")
    return images[0]


def learn_uploads(
    samples: Any, content: Any, before: Any, after: Any
) -> tuple[list[Image.Image], list[Image.Image], list[tuple[Image.Image, Image.Image]]]:
    """The Learn tab's uploads -> (samples, own selfies, before/after pairs), each image at most 1024 px."""
    before_images, after_images = upload_images(before, 1024), upload_images(after, 1024)
    if len(before_images) != len(after_images):
        counts = f"{len(before_images)} vs {len(after_images)}"
        raise studio.StudioError(f"give as many 'after' as 'before' pictures ({counts})")
    pairs = list(zip(before_images, after_images, strict=True))
    return upload_images(samples, 1024), upload_images(content, 1024), pairs


def style_choices(pipe: PersonalStylePipeline, session_styles: dict[str, PersonalStyle]) -> list[tuple[str, str]]:
    """The Style pickers' (label, value) pairs: the built-in looks ('photo', which changes nothing, left out; the
    Strength slider gives it), then the session's own styles."""
    looks = studio.look_names(pipe)
    return [(name, name) for name in looks] + [(f"{name} (yours)", name) for name in session_styles]


def said_on_page(prefix: str, unchanged: Callable[..., tuple] = lambda *args: ()) -> Callable:
    """For the page's copy of an API handler (wrapped in :func:`readable_errors`): instead of raising, its readable
    error goes to the status line, its last output, as "**prefix** message", and ``unchanged(*args)`` gives the
    other outputs (the API endpoint keeps raising, so clients still get an error)."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except gr.Error as exc:
                said = f"**{prefix}** {exc.message}"
                others = unchanged(*args, **kwargs)
                return (*others, said) if others else said

        call.__name__ = call.__qualname__ = f"{fn.__name__}_on_page"  # not the API endpoint's name
        return call

    return wrap

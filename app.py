"""Personal Style Studio, the Gradio app: stylize a selfie, learn a style from a few pictures, share it.

This file only builds and wires the UI; the work is in ``pipeline/studio.py``. ``build_demo(pipe)`` takes any
``PersonalStylePipeline`` (tests pass a tiny one); nothing is loaded at import time.

    python app.py                       # the weights in weights/, on http://127.0.0.1:7860
    python app.py --share               # and a public gradio.live link
    python app.py --weights user/repo   # a pipeline from the Hub
"""

from __future__ import annotations

import argparse
import base64
import functools
import inspect
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gradio as gr
import gradio.utils as gradio_utils
import pandas as pd
from PIL import Image

from pipeline import PersonalStyle, PersonalStylePipeline, load_image, studio
from pipeline.images import ImageError
from pipeline.style import StyleError

ROOT = Path(__file__).resolve().parent
EXAMPLES = sorted((ROOT / "assets" / "examples").glob("*.jpg"))
MAX_FILE_SIZE = "10mb"  # per upload, enforced by the server before any handler runs
STYLIZE_CONCURRENCY = 2  # stylize/preview calls at once (they share the device); learning runs one at a time
QUEUE_SIZE = 16  # waiting events in all; more get "busy" (HTTP 503): at ~0.4 stylize/s on 2 CPU cores, a 40 s wait
SESSION_TTL = 3600  # seconds: a session's files are deleted when its tab closes, and at the latest this old
NO_MIX = ("none", "")
# shown first when the bank has them: the clearest looks at one click (pastel and noir match their defining functions
# best, halftone prints a real dot screen; benchmarks/results/fidelity.md); watercolor and cartoon barely change a photo
EXAMPLE_STYLES = ("pastel", "halftone", "noir")
ON_SPACES = bool(os.environ.get("SPACE_ID"))
EDITS = ("upload", "delete", "clear")  # a file list's events that change what it holds
EMPTY_LEARN_STATUS = "Upload samples: a preview appears at once; **Learn** refines it."
logger = logging.getLogger("personal_style_studio")

INTRO = """# Personal Style Studio
Restyle a selfie with a built-in look, **learn your own look** from a few pictures, and share it on the Hugging
Face Hub. The numbers under the result are Gram-loss distances to the style (lower = closer)."""


# --- glue: uploads in, readable errors out -------------------------------------------------------------------
def readable_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure of a handler (a function or a generator) into a ``gr.Error`` with a plain message."""

    def translate(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if studio.is_out_of_memory(exc):
            studio.free_memory()
            logger.warning("out of memory in %s: %s", fn.__name__, type(exc).__name__)
            return gr.Error(studio.OUT_OF_MEMORY[0].upper() + studio.OUT_OF_MEMORY[1:] + ".")
        if isinstance(exc, (ImageError, StyleError, studio.StudioError, ValueError)):
            return gr.Error(str(exc))
        logger.exception("unexpected failure in %s", fn.__name__)
        return gr.Error(f"Something went wrong ({type(exc).__name__}); please try again.")

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


def _paths(value: Any) -> list[tuple[str, str]]:
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
    images = []
    for path, name in uploads(value):
        if path.startswith("data:"):
            images.append(load_image(base64.b64decode(path.partition(",")[2])))
        else:
            images.append(studio.load_upload(path, name, max_side))
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
    return [(name, name) for name in pipe.styles] + [(f"{name} (yours)", name) for name in session_styles]


# --- handlers: UI values in, UI values out ------------------------------------------------------------------------
class Handlers:
    """The event handlers for one pipeline. Session data lives in ``gr.State``; shared here are the stop flag per
    running learn job and each session's files (``files``: outputs and uploads, deleted when the session ends),
    keyed by the session. ``is_upload(path)`` tells a visitor's upload from a file the app itself serves
    (examples), which must outlive any session."""

    def __init__(
        self,
        pipe: PersonalStylePipeline,
        portrait: Image.Image,
        files: studio.SessionFiles,
        is_upload: Callable[[str], bool] = lambda path: False,
    ) -> None:
        self.pipe = pipe
        self.portrait = portrait
        self.files = files
        self.is_upload = is_upload
        self.stop_flags: dict[str, threading.Event] = {}

    def keep(self, request: gr.Request | None, *values: Any) -> str:
        """Record the uploads in ``values`` as ``request``'s session's -> the session key."""
        session = getattr(request, "session_hash", None) or "anonymous"
        paths = [path for value in values for path, _ in _paths(value) if self.is_upload(path)]
        self.files.track_uploads(session, paths)
        return session

    def output(self, session: str, image: Image.Image | None, stem: str = "result") -> str | None:
        """An output image as a file in the session's own folder (what the browser then fetches)."""
        return None if image is None else self.files.save(session, image, stem)

    @readable_errors
    def stylize(
        self,
        selfie: Any,
        style_name: str,
        mix_with: str,
        mix_ratio: float,
        strength: float,
        preserve_color: bool,
        face_protect: float,
        region: dict[str, Any] | None,
        session_styles: dict[str, PersonalStyle],
        request: gr.Request = None,
    ) -> tuple[str, pd.DataFrame, pd.DataFrame]:
        session = self.keep(request, selfie, (region or {}).get("layers"))
        image = upload_image(selfie, max_side=studio.MAX_SIDE)
        style = studio.resolve_style(self.pipe, style_name, session_styles, mix_with, float(mix_ratio or 0))
        mask = studio.load_region([path for path, _ in uploads((region or {}).get("layers"))])
        result = studio.stylize(
            self.pipe, image, style, float(strength), bool(preserve_color), float(face_protect or 0), mask
        )
        return self.output(session, result.image, "stylized"), result.table, result.chart

    @staticmethod
    def region_canvas(selfie: Any) -> dict[str, Any] | None:
        """A fresh painting canvas over the new selfie."""
        paths = uploads(selfie)
        return {"background": paths[0][0], "layers": [], "composite": None} if paths else None

    def pick_from_gallery(self, evt: gr.SelectData) -> str:
        return list(self.pipe.styles)[evt.index]

    def preview_portrait(self, content: Any, selfie: Any) -> Image.Image:
        """The portrait previews are shown on: the first own selfie, else the Stylize tab's, else a sample."""
        for value in (content, selfie):
            images = upload_images(value, max_side=studio.THUMB_SIDE * 2)
            if images:
                return images[0]
        return self.portrait

    @readable_errors
    def zero_shot(
        self, samples: Any, content: Any, selfie: Any, request: gr.Request = None
    ) -> tuple[str | None, str, dict[str, Any]]:
        """The samples' instant look on the preview portrait, a status naming its mix, the samples' thumbnails."""
        session = self.keep(request, samples, content, selfie)
        sample_images = upload_images(samples, max_side=512)
        if not sample_images:
            return None, EMPTY_LEARN_STATUS, gr.update(value=[], visible=False)
        portrait = self.preview_portrait(content, selfie)
        preview, mix = studio.zero_shot_preview(self.pipe, sample_images, portrait)
        count = f"{len(sample_images)} sample{'s' * (len(sample_images) != 1)}"
        graded = ", with a colour grade read from them" if self.pipe.style_encoder is not None else ""
        status = (
            f"Preview from your {count}: the closest mix of built-in looks ({studio.describe_mix(mix)}){graded}. "
            "**Learn** refines it on your samples; *instant* keeps this preview."
        )
        thumbs = [self.output(session, thumb, "sample") for thumb in studio.sample_thumbnails(sample_images)]
        return self.output(session, preview, "preview"), status, gr.update(value=thumbs, visible=True)

    def arm_stop(self, request: gr.Request) -> None:
        self.stop_flags[request.session_hash] = threading.Event()

    def stop(self, request: gr.Request) -> None:
        """The Stop button, or the tab closed: end this session's learning at its next step."""
        flag = self.stop_flags.get(request.session_hash)
        if flag is not None:
            flag.set()

    def end_session(self, request: gr.Request) -> None:
        """The tab closed (or the client went away): stop its learning, delete its files."""
        self.stop(request)
        self.files.close(request.session_hash or "anonymous")

    @readable_errors
    def learn(
        self,
        samples: Any,
        content: Any,
        before: Any,
        after: Any,
        name: str,
        quality: str,
        steps: float | None,
        size: float | None,
        seed: float | None,
        selfie: Any,
        session_styles: dict[str, PersonalStyle],
        request: gr.Request,
        progress: gr.Progress = gr.Progress(),
    ) -> Iterator[tuple[Any, ...]]:
        session = self.keep(request, samples, content, before, after, selfie)
        name = studio.check_style_name(name, self.pipe)
        sample_images, content_images, pairs = learn_uploads(samples, content, before, after)
        stop = self.stop_flags.setdefault(session, threading.Event())
        history: list[studio.LearnUpdate] = []
        skip = gr.skip()
        try:
            for update in studio.learn_stream(
                self.pipe,
                sample_images,
                name=name,
                quality=quality,
                content=content_images,
                pairs=pairs,
                steps=int(steps or 0) or None,
                size=int(size or 0) or None,
                seed=int(seed or 0),
                stop=stop,
            ):
                if update.style is not None:
                    portrait = self.preview_portrait(content, selfie)
                    yield self.learned(update, history, session_styles, portrait, session)
                    continue
                history.append(update)
                if update.total:
                    progress((update.step, update.total), desc=learn_status(update, stop.is_set()), unit="steps")
                preview = skip if update.preview is None else self.output(session, update.preview, "preview")
                yield (preview, "", studio.loss_history(history), *[skip] * 7)
        finally:
            if self.stop_flags.get(session) is stop:
                del self.stop_flags[session]

    def learned(
        self,
        update: studio.LearnUpdate,
        history: list[studio.LearnUpdate],
        session_styles: dict[str, PersonalStyle],
        portrait: Image.Image,
        session: str,
    ) -> tuple[Any, ...]:
        """The Learn tab's outputs once a style is learned: it joins the session and is selected for Stylize; its
        zero-shot start joins too (as ``<name>-instant``) and is shown beside it, so the visitor keeps either."""
        style = update.style
        styles = {**session_styles, style.name: style}
        instant = gr.update(value=None, visible=False)
        if style.zero_shot is not None:
            start = replace(style.zero_shot, name=studio.instant_name(style.name))
            styles[start.name] = start
            instant_image = studio.stylize(self.pipe, portrait, start).image
            instant = gr.update(value=self.output(session, instant_image, "instant"), visible=True)
        result = studio.stylize(self.pipe, portrait, style)
        table, chart = studio.learned_metrics(style)
        choices = style_choices(self.pipe, styles)
        return (
            self.output(session, result.image, "learned"),
            learn_status(update),
            studio.loss_history(history),
            table,
            styles,
            gr.update(choices=choices, value=style.name),
            gr.update(choices=[NO_MIX, *choices]),
            gr.update(choices=list(styles), value=style.name),
            chart,
            instant,
        )

    @readable_errors
    def download_style(
        self, style_name: str, session_styles: dict[str, PersonalStyle], request: gr.Request = None
    ) -> str:
        """The picked session style as a .zip in the session's own folder (what the browser downloads)."""
        if style_name not in session_styles:
            raise studio.StudioError("learn a style (or load one) in this session first, then pick it here")
        session = self.keep(request)
        return studio.style_zip(session_styles[style_name], self.files.folder(session))

    @readable_errors
    def upload_style(
        self, upload: Any, session_styles: dict[str, PersonalStyle], request: gr.Request = None
    ) -> tuple[Any, ...]:
        """A style .zip the visitor kept: checked, extracted into the session's folder, added and selected."""
        paths = uploads(upload)
        if len(paths) != 1:
            raise studio.StudioError("upload one style .zip (made by Download style)")
        session = self.keep(request, upload)
        style = studio.load_style_zip(self.pipe, paths[0][0], self.files.folder(session))
        return (*self.with_style(style, session_styles), f"Loaded **{style.name}** from `{paths[0][1]}`.")

    def with_style(self, style: PersonalStyle, session_styles: dict[str, PersonalStyle]) -> tuple[Any, ...]:
        """The session's styles with ``style`` added, and the three style pickers showing it selected."""
        styles = {**session_styles, style.name: style}
        choices = style_choices(self.pipe, styles)
        return (
            styles,
            gr.update(choices=choices, value=style.name),
            gr.update(choices=[NO_MIX, *choices]),
            gr.update(choices=list(styles), value=style.name),
        )

    @readable_errors
    def load_from_hub(self, repo_id: str, session_styles: dict[str, PersonalStyle]) -> tuple[Any, ...]:
        style = studio.load_hub_style(self.pipe, repo_id)
        return (*self.with_style(style, session_styles), f"Loaded **{style.name}** from `{repo_id.strip()}`.")

    @readable_errors
    def push(
        self,
        style_name: str,
        repo_id: str,
        private: bool,
        token_text: str,
        session_styles: dict[str, PersonalStyle],
        oauth_token: gr.OAuthToken | None,
    ) -> str:
        if style_name not in session_styles:
            raise studio.StudioError("learn a style (or load one) in this session first, then pick it here")
        token = oauth_token.token if oauth_token is not None else (token_text or "").strip()
        url = studio.push_style(session_styles[style_name], repo_id, token, bool(private))
        return f"Pushed **{style_name}** to [{url}]({url})."


def learn_status(update: studio.LearnUpdate, stopping: bool = False) -> str:
    """How learning goes (shown with the progress bar: time left, latest losses) or how it ended."""
    if update.style is not None and not update.total:
        parts = studio.describe_mix(update.style.metadata.get("zero_shot_mix") or {})
        graded = " with a colour grade" if update.style.color_lut is not None else ""
        return (
            f"**{update.style.name}**: instant mix of built-in looks ({parts}){graded} in {update.elapsed:.0f} s. "
            "Selected in the Stylize tab."
        )
    if update.style is not None:
        meta = update.style.metadata
        how = "stopped early; kept the best so far" if meta.get("cancelled") else "done"
        kept = studio.describe_kept(meta, update.step)
        both = (
            f"Selected in the Stylize tab; the instant mix is kept beside it as **{studio.instant_name(update.style.name)}**."
            if update.style.zero_shot is not None
            else "Selected in the Stylize tab."
        )
        return (
            f"**{update.style.name}**: {how} after {update.step}/{update.total} steps in {update.elapsed:.0f} s. "
            + (f"{kept} " if kept else "")
            + both
        )
    if stopping:
        return "Stopping after this step…"
    eta = "" if update.eta is None else f"about {update.eta:.0f} s left · "
    return eta + " · ".join(f"{term} {value:.3g}" for term, value in update.losses.items() if term != "objective")


# --- the UI ------------------------------------------------------------------------------------------------------
def distance_plot(label: str, *bars: str) -> gr.BarPlot:
    """A bar chart of relative Gram distances, one bar per (layer, image) in reading order; no colour legend
    (the bar labels say which image, and a fixed height would clip it)."""
    return gr.BarPlot(
        x="bar",
        y="distance",
        color="image",
        label=label,
        x_title="layer · image",
        y_title="relative Gram distance",
        height=320,
        x_label_angle=-30,
        sort=studio.chart_order(*bars),
        colors_in_legend=[],
    )


def stylize_tab(bank: list[tuple[str, str]], thumbnails: list, example_rows: list[list[str]]) -> SimpleNamespace:
    """Selfie, style pickers and options on the left; the result, its metrics table and chart on the right."""
    with gr.Row():
        with gr.Column():
            selfie = gr.Image(
                label="Your selfie",
                sources=["upload", "webcam", "clipboard"],
                type="filepath",
                height=360,
                elem_id="selfie",
            )
            first_look = example_rows[0][1] if example_rows else None
            style = gr.Dropdown(bank, value=first_look, label="Style", elem_id="style")
            gallery = gr.Gallery(
                thumbnails,
                label="Built-in styles: click one to pick it",
                columns=5,
                height=250,
                allow_preview=False,
                object_fit="cover",
                buttons=[],
            )
            with gr.Row():
                strength = gr.Slider(0, 1, value=1, step=0.05, label="Strength")
                face_protect = gr.Slider(0, 1, value=0, step=0.05, label="Keep my face recognisable")
            preserve_color = gr.Checkbox(label="Keep my colours")
            with gr.Accordion("Mix two styles", open=False):
                mix_with = gr.Dropdown([NO_MIX, *bank], value="", label="Mix with")
                mix_ratio = gr.Slider(0, 1, value=0.5, step=0.05, label="Share of the second style")
            with gr.Accordion("Paint where the style goes (optional)", open=False):
                region = gr.ImageEditor(
                    label="Paint the parts to restyle (unpainted: the whole picture)",
                    type="filepath",
                    sources=[],
                    transforms=[],
                    layers=False,
                    height=360,
                    elem_id="region",
                    brush=gr.Brush(colors=["#ffffff"], default_color="#ffffff", color_mode="fixed"),
                )
            with gr.Accordion("A style from the Hub", open=False):
                with gr.Row():
                    hub_repo = gr.Textbox(label="Repo id", placeholder="user/style-name", scale=3)
                    hub_load = gr.Button("Load", scale=1)
                hub_message = gr.Markdown()
            run = gr.Button("Stylize", variant="primary", elem_id="stylize-button")
        with gr.Column():
            output = gr.Image(
                label="Stylized",
                format="png",
                interactive=False,
                height=360,
                buttons=["download", "fullscreen"],
                elem_id="output",
            )
            table = gr.Dataframe(
                label="Gram-loss metrics: relative distance to the style (lower = closer)",
                headers=["measure", "input", "output"],
                interactive=False,
            )
            chart = distance_plot("Distance to the style, per layer", "input", "output")
    examples = gr.Examples(
        example_rows,
        inputs=[selfie, style],
        label="Try a sample portrait: one click",
        example_labels=[f"{Path(path).stem.replace('_', ' ')} · {look}" for path, look in example_rows],
    )
    return SimpleNamespace(
        selfie=selfie,
        style=style,
        gallery=gallery,
        strength=strength,
        face_protect=face_protect,
        preserve_color=preserve_color,
        mix_with=mix_with,
        mix_ratio=mix_ratio,
        region=region,
        hub_repo=hub_repo,
        hub_load=hub_load,
        hub_message=hub_message,
        run=run,
        output=output,
        table=table,
        chart=chart,
        examples=examples,
    )


def learn_tab() -> SimpleNamespace:
    """Samples, optional selfies and pairs, name and quality on the left; preview, progress and results right."""
    images = dict(file_count="multiple", file_types=["image"])
    with gr.Row():
        with gr.Column():
            samples = gr.File(
                label=f"Style samples (1–{studio.MAX_SAMPLES} pictures in the look you want)",
                elem_id="samples",
                **images,
            )
            thumbs = gr.Gallery(
                label="Your samples",
                elem_id="sample-thumbs",
                columns=6,
                fit_columns=False,  # small thumbnails, six to a row, whatever the count
                height=170,
                visible=False,
                object_fit="cover",
                allow_preview=False,
                interactive=False,
                buttons=[],
            )
            with gr.Accordion("Optional: your selfies, before/after pairs", open=False):
                content = gr.File(label="A few of your own selfies", **images)
                with gr.Row():
                    before = gr.File(label="Before", **images)
                    after = gr.File(label="After (same order)", **images)
            with gr.Row():
                name = gr.Textbox(label="Name", value="my-style")
                quality = gr.Radio(
                    list(studio.QUALITIES),
                    value="fast",
                    label="Quality",
                    info="instant: the preview, in seconds. fast (about a minute), balanced and best refine it on "
                    "your samples; on looks we held out they are not yet better than instant on average, so both "
                    "results are shown and kept afterwards: pick either",
                )
            with gr.Accordion("Advanced", open=False):
                with gr.Row():
                    steps = gr.Number(0, precision=0, minimum=0, label="Steps (0 = preset)")
                    size = gr.Number(0, precision=0, minimum=0, label="Training size, px (0 = preset)")
                    seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            with gr.Row():
                learn = gr.Button("Learn", variant="primary", elem_id="learn-button")
                stop = gr.Button("Stop", variant="stop")
        with gr.Column():
            with gr.Row():
                preview = gr.Image(label="Learned", interactive=False, height=300, format="png")
                instant = gr.Image(
                    label="Instant (before learning)", interactive=False, height=300, format="png", visible=False
                )
            status = gr.Markdown(EMPTY_LEARN_STATUS, min_height=72, elem_id="learn-status")
            loss_plot = gr.LinePlot(  # no height: a fixed one clips the legend
                x="step",
                y="relative",
                color="line",
                label="While learning: distance to your look, relative to the instant mix (lower is closer)",
                y_title="relative to the instant mix",
                color_title="judged on",
                y_lim=[0, None],
            )
            table = gr.Dataframe(
                label="Metrics of the learned style: the learning photos' distance to your samples' look",
                headers=["measure", "input", "zero-shot", "learned"],
                interactive=False,
            )
            chart = distance_plot("Distance to your look, per layer", "input", "zero-shot", "learned")
    return SimpleNamespace(
        samples=samples,
        thumbs=thumbs,
        content=content,
        before=before,
        after=after,
        name=name,
        quality=quality,
        steps=steps,
        size=size,
        seed=seed,
        learn=learn,
        stop=stop,
        preview=preview,
        instant=instant,
        status=status,
        loss_plot=loss_plot,
        table=table,
        chart=chart,
    )


def share_tab() -> SimpleNamespace:
    """Push a session style (sign in on Spaces, a token field elsewhere); load one by repo id."""
    gr.Markdown("Push a style you learned (or loaded) in this session to the Hub, or load one.")
    style = gr.Dropdown([], label="Style to push")
    with gr.Row():
        repo_id = gr.Textbox(label="Repo id", placeholder="your-name/my-style", scale=3)
        private = gr.Checkbox(value=True, label="Private", scale=1)
    if ON_SPACES:
        gr.LoginButton()
    token = gr.Textbox(
        label="Hugging Face write token",
        type="password",
        placeholder="hf_…",
        visible=not ON_SPACES,
        info="Used for this push only: not stored, not logged, cleared afterwards.",
    )
    push = gr.Button("Push to the Hub", variant="primary")
    push_message = gr.Markdown()
    gr.Markdown("### Load a style from the Hub")
    with gr.Row():
        load_repo = gr.Textbox(label="Repo id", placeholder="user/style-name", scale=3)
        load = gr.Button("Load", scale=1)
    load_message = gr.Markdown()
    gr.Markdown("### Keep a style as a file")
    with gr.Row():
        download = gr.Button("Download style (.zip)", scale=1)
        style_file = gr.File(label="Your style file", interactive=False, scale=2)
    upload = gr.File(label="Upload a style (.zip)", file_types=[".zip"], elem_id="style-upload")
    upload_message = gr.Markdown()
    return SimpleNamespace(
        download=download,
        style_file=style_file,
        upload=upload,
        upload_message=upload_message,
        style=style,
        repo_id=repo_id,
        private=private,
        token=token,
        push=push,
        push_message=push_message,
        load_repo=load_repo,
        load=load,
        load_message=load_message,
    )


def wire(
    demo: gr.Blocks,
    handlers: Handlers,
    state: gr.State,
    stylize: SimpleNamespace,
    learn: SimpleNamespace,
    share: SimpleNamespace,
) -> None:
    """Events: stylize and previews share a bounded pool, learning runs one at a time; uploads reach the
    handlers unprocessed (``preprocess=False``) so that a bad file becomes a readable error, not a crash."""
    work = dict(preprocess=False, concurrency_id="stylize", concurrency_limit=STYLIZE_CONCURRENCY)
    private = dict(api_visibility="private")
    stylize_inputs = [
        stylize.selfie,
        stylize.style,
        stylize.mix_with,
        stylize.mix_ratio,
        stylize.strength,
        stylize.preserve_color,
        stylize.face_protect,
        stylize.region,
        state,
    ]
    stylize_outputs = [stylize.output, stylize.table, stylize.chart]
    stylize.run.click(handlers.stylize, stylize_inputs, stylize_outputs, api_name="stylize", **work)
    stylize.examples.load_input_event.then(handlers.stylize, stylize_inputs, stylize_outputs, **private, **work)
    stylize.selfie.change(
        handlers.region_canvas, stylize.selfie, stylize.region, preprocess=False, queue=False, **private
    )
    stylize.gallery.select(handlers.pick_from_gallery, None, stylize.style, queue=False, **private)

    preview_inputs = [learn.samples, learn.content, stylize.selfie]
    preview_triggers = [getattr(part, event) for part in (learn.samples, learn.content) for event in EDITS]
    gr.on(
        preview_triggers,
        handlers.zero_shot,
        preview_inputs,
        [learn.preview, learn.status, learn.thumbs],
        api_name="preview",
        **work,
    )
    style_lists = [state, stylize.style, stylize.mix_with, share.style]
    learn_inputs = [
        learn.samples,
        learn.content,
        learn.before,
        learn.after,
        learn.name,
        learn.quality,
        learn.steps,
        learn.size,
        learn.seed,
        stylize.selfie,
        state,
    ]
    learn_outputs = [
        learn.preview,
        learn.status,
        learn.loss_plot,
        learn.table,
        *style_lists,
        learn.chart,
        learn.instant,
    ]
    learn.learn.click(handlers.arm_stop, None, None, queue=False, **private).then(
        handlers.learn,
        learn_inputs,
        learn_outputs,
        api_name="learn",
        preprocess=False,
        concurrency_id="learn",
        concurrency_limit=1,
        show_progress_on=[learn.status],
    )
    learn.stop.click(handlers.stop, None, None, queue=False, api_name="stop")
    demo.unload(handlers.end_session)

    load_outputs = [*style_lists, stylize.hub_message]
    stylize.hub_load.click(handlers.load_from_hub, [stylize.hub_repo, state], load_outputs, api_name="load_style")
    share.load.click(handlers.load_from_hub, [share.load_repo, state], [*style_lists, share.load_message], **private)
    share.download.click(handlers.download_style, [share.style, state], share.style_file, api_name="download_style")
    share.upload.upload(
        handlers.upload_style,
        [share.upload, state],
        [*style_lists, share.upload_message],
        api_name="upload_style",
        preprocess=False,
    )
    push_inputs = [share.style, share.repo_id, share.private, share.token, state]
    pushed = share.push.click(handlers.push, push_inputs, share.push_message, api_name="push")
    for outcome in (pushed.success, pushed.failure):  # the token field is emptied after every push, failed or not
        outcome(lambda: "", None, share.token, queue=False, **private)


def build_demo(pipe: PersonalStylePipeline, examples: list[Path] | None = None) -> gr.Blocks:
    """The whole app for ``pipe``; the style gallery is rendered here, once, on the first sample portrait."""
    examples = EXAMPLES if examples is None else examples
    portrait = load_image(examples[0]) if examples else Image.new("RGB", (256, 256), (128, 128, 128))
    names = list(pipe.styles)
    looks = [n for n in EXAMPLE_STYLES if n in names] + [n for n in names if n not in EXAMPLE_STYLES and n != "photo"]
    looks = looks or names or [None]
    example_rows = [[str(path), looks[i % len(looks)]] for i, path in enumerate(examples)]
    thumbnails = studio.style_gallery(pipe, portrait)
    with gr.Blocks(title="Personal Style Studio", analytics_enabled=False, delete_cache=(600, SESSION_TTL)) as demo:
        session_styles = gr.State({})
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Stylize", id="stylize"):
                stylize = stylize_tab(style_choices(pipe, {}), thumbnails, example_rows)
            with gr.Tab("Learn my style", id="learn"):
                learn = learn_tab()
            with gr.Tab("Share", id="share"):
                share = share_tab()
        files = studio.SessionFiles(Path(demo.GRADIO_CACHE) / "sessions", max_age=SESSION_TTL)
        handlers = Handlers(pipe, portrait, files, is_upload=functools.partial(is_visitor_upload, demo))
        wire(demo, handlers, session_styles, stylize, learn, share)
    return demo


def is_visitor_upload(demo: gr.Blocks, path: str) -> bool:
    """A file a visitor uploaded, and not one the app serves to all (examples, gallery: the same bytes give the
    same server path, so an upload of an example picture is the example's file)."""
    return path in demo.upload_file_set and not any(
        path in getattr(b, "keep_in_cache", ()) for b in demo.blocks.values()
    )


def serve(
    demo: gr.Blocks,
    *,
    host: str | None = None,
    port: int | None = None,
    share: bool = False,
    prevent_thread_lock: bool = False,
) -> gr.Blocks:
    """Queue with limits, then launch: stylize runs ``STYLIZE_CONCURRENCY`` at a time, learning one at a time."""
    demo.queue(default_concurrency_limit=STYLIZE_CONCURRENCY, max_size=QUEUE_SIZE)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=MAX_FILE_SIZE,
        prevent_thread_lock=prevent_thread_lock,
        footer_links=["api", "gradio"],
        theme=gr.themes.Soft(),
    )
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Personal Style Studio (Gradio app)")
    parser.add_argument("--weights", default=str(ROOT / "weights"), help="pipeline folder or Hub repo id")
    parser.add_argument("--host", default=None, help="address to bind (default: 127.0.0.1, or Gradio's env setting)")
    parser.add_argument("--port", type=int, default=None, help="port (default: 7860 or the next free one)")
    parser.add_argument("--share", action="store_true", help="also print a public gradio.live link")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    import torch

    if torch.cuda.is_available():
        pipe.to("cuda")
    serve(build_demo(pipe), host=args.host, port=args.port, share=args.share)


if __name__ == "__main__":
    main()

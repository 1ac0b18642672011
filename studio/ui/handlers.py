"""The event handlers: each turns a UI event into studio calls and the values the page shows."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import gradio as gr
import pandas as pd
from PIL import Image

import studio
from pipeline import PersonalStyle, PersonalStylePipeline

from .inputs import (
    NO_MIX,
    learn_uploads,
    readable_errors,
    said_on_page,
    style_choices,
    upload_image,
    upload_images,
    upload_paths,
    uploads,
)
from .texts import EMPTY_LEARN_STATUS, busy_status, learn_status


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
        self.learning: dict[str, studio.LearnUpdate | None] = {}  # session -> its run's latest report

    def keep(self, request: gr.Request | None, *values: Any) -> str:
        """Record the uploads in ``values`` as ``request``'s session's -> the session key."""
        session = getattr(request, "session_hash", None) or "anonymous"
        paths = [path for value in values for path, _ in upload_paths(value) if self.is_upload(path)]
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
    def table_label(table: pd.DataFrame) -> Any:
        """After a stylize: the metrics table's label says in words how much closer the result came."""
        return gr.update(label=f"How close: {studio.closeness_of_table(table)} (lower distance = closer)")

    @staticmethod
    def region_canvas(selfie: Any) -> dict[str, Any] | None:
        """A fresh painting canvas over the new selfie."""
        paths = uploads(selfie)
        return {"background": paths[0][0], "layers": [], "composite": None} if paths else None

    def pick_from_gallery(self, evt: gr.SelectData) -> str:
        return studio.look_names(self.pipe)[evt.index]

    def follow_in_gallery(self, style_name: str) -> Any:
        """The gallery highlights the look the Style dropdown shows (none for the visitor's own styles)."""
        looks = studio.look_names(self.pipe)
        return gr.update(selected_index=looks.index(style_name) if style_name in looks else None)

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

    def arm_stop(self, request: gr.Request) -> Any:
        """Before learning is queued: a fresh stop flag, and a word if another visitor's run holds the slot."""
        self.stop_flags[request.session_hash] = threading.Event()
        others = [u for session, u in self.learning.items() if session != request.session_hash]
        if not others:
            return gr.skip()
        return busy_status(others[0].eta if others[0] is not None else None)

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
        self.learning[session] = None
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
                self.learning[session] = update
                if update.total:
                    progress((update.step, update.total), desc=learn_status(update, stop.is_set()), unit="steps")
                preview = skip if update.preview is None else self.output(session, update.preview, "preview")
                yield (preview, "", studio.loss_history(history), *[skip] * 7)
        finally:
            self.learning.pop(session, None)
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

    load_from_hub_on_page = said_on_page(  # the pickers stay as they were; the reason stays under Load
        "Not loaded:", lambda self, repo_id, session_styles: (session_styles, gr.update(), gr.update(), gr.update())
    )(load_from_hub)

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

    push_on_page = said_on_page("Not pushed:")(push)  # the reason stays under the Push button

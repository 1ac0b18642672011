"""The events: which handler each control calls, with what concurrency."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from .handlers import Handlers
from .inputs import EDITS


def wire(
    demo: gr.Blocks,
    handlers: Handlers,
    state: gr.State,
    stylize: SimpleNamespace,
    learn: SimpleNamespace,
    share: SimpleNamespace,
    concurrency: int,
) -> None:
    """Events: stylize and previews share a pool of ``concurrency`` workers, learning runs one at a time; uploads reach the
    handlers unprocessed (``preprocess=False``) so that a bad file becomes a readable error, not a crash."""
    work = dict(preprocess=False, concurrency_id="stylize", concurrency_limit=concurrency)
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
    stylized = [
        stylize.run.click(handlers.stylize, stylize_inputs, stylize_outputs, api_name="stylize", **work),
        stylize.examples.load_input_event.then(handlers.stylize, stylize_inputs, stylize_outputs, **private, **work),
    ]
    for event in stylized:
        event.success(handlers.table_label, stylize.table, stylize.table, queue=False, **private)
    stylize.selfie.change(
        handlers.region_canvas, stylize.selfie, stylize.region, preprocess=False, queue=False, **private
    )
    stylize.gallery.select(handlers.pick_from_gallery, None, stylize.style, queue=False, **private)
    stylize.style.change(handlers.follow_in_gallery, stylize.style, stylize.gallery, queue=False, **private)

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
    learn.learn.click(handlers.arm_stop, None, learn.status, queue=False, **private).then(
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
    # on the page a failed load says why under the button and leaves the pickers alone; the API raises instead
    stylize.hub_load.click(handlers.load_from_hub_on_page, [stylize.hub_repo, state], load_outputs, **private)
    share.load.click(
        handlers.load_from_hub_on_page, [share.load_repo, state], [*style_lists, share.load_message], **private
    )
    api_only = gr.Button(visible=False, render=True)
    api_only.click(handlers.load_from_hub, [stylize.hub_repo, state], load_outputs, api_name="load_style")
    share.download.click(handlers.download_style, [share.style, state], share.style_file, api_name="download_style")
    share.upload.upload(
        handlers.upload_style,
        [share.upload, state],
        [*style_lists, share.upload_message],
        api_name="upload_style",
        preprocess=False,
    )
    push_inputs = [share.style, share.repo_id, share.private, share.token, state]
    pushed = share.push.click(handlers.push_on_page, push_inputs, share.push_message, **private)
    for outcome in (pushed.success, pushed.failure):  # the token field is emptied after every push, failed or not
        outcome(lambda: "", None, share.token, queue=False, **private)
    api_only.click(handlers.push, push_inputs, share.push_message, api_name="push")

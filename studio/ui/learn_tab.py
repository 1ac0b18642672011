"""The Learn tab: samples in, the instant preview at once, learning with progress, the learned result."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

import studio

from .texts import EMPTY_LEARN_STATUS
from .widgets import distance_plot


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
                preview = gr.Image(
                    label="Learned", interactive=False, height=300, format="png", buttons=["download", "fullscreen"]
                )
                instant = gr.Image(
                    label="Instant (before learning)",
                    interactive=False,
                    height=300,
                    format="png",
                    visible=False,
                    buttons=["download", "fullscreen"],
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

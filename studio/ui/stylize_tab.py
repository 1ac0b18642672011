"""The Stylize tab: a selfie, a style (gallery, mix, strength), the result and how close it is."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from .inputs import NO_MIX
from .widgets import distance_plot, hub_load_row


def stylize_tab(bank: list[tuple[str, str]], thumbnails: list, example_rows: list[list[str]]) -> SimpleNamespace:
    """The selfie, the style, the sample portraits and the Stylize button beside the result and how close it came
    (all above the fold); below, the gallery and the options. On a phone the columns stack, so the result and its
    metrics come right after the button."""
    with gr.Row(equal_height=False):
        with gr.Column():
            selfie = gr.Image(
                label="Your selfie",
                sources=["upload", "webcam", "clipboard"],
                type="filepath",
                height=320,
                elem_id="selfie",
            )
            first_look = example_rows[0][1] if example_rows else None
            style = gr.Dropdown(bank, value=first_look, label="Style", elem_id="style")
            examples = gr.Examples(
                example_rows,
                inputs=[selfie, style],
                label="Try a sample portrait: one click",
                example_labels=[f"{Path(path).stem.replace('_', ' ')} · {look}" for path, look in example_rows],
            )
            run = gr.Button("Stylize", variant="primary", elem_id="stylize-button")
        with gr.Column():
            output = gr.Image(
                label="Stylized",
                format="png",
                interactive=False,
                height=320,
                buttons=["download", "fullscreen"],
                elem_id="output",
            )
            table = gr.Dataframe(
                label="How close to the style (Gram-loss distance; lower = closer)",
                headers=["measure", "input", "output"],
                interactive=False,
                wrap=True,
                column_widths=["56%", "22%", "22%"],
            )
            with gr.Accordion("Per-layer chart", open=False):
                chart = distance_plot("Distance to the style, per layer", "input", "output")
    with gr.Row():
        with gr.Column():
            gr.Markdown("**Built-in styles** — click one to pick it", elem_id="gallery-caption")
            names = [name for _, name in thumbnails]
            gallery = gr.Gallery(
                thumbnails,
                selected_index=names.index(first_look) if first_look in names else None,
                show_label=False,
                columns=7,
                height="auto",
                allow_preview=False,
                object_fit="cover",
                buttons=[],
                elem_id="style-gallery",
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
                hub_repo, hub_load, hub_message = hub_load_row()
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

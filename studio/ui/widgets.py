"""Widgets shared by the tabs."""

from __future__ import annotations

import gradio as gr

import studio


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


def hub_load_row() -> tuple[gr.Textbox, gr.Button, gr.Markdown]:
    """A repo id field, a Load button and the status line under them that says what happened."""
    with gr.Row():
        repo = gr.Textbox(label="Repo id", placeholder="user/style-name", scale=3)
        load = gr.Button("Load", scale=1)
    return repo, load, gr.Markdown()

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

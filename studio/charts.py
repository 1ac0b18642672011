"""The app's tables and plots as pandas frames: style and content distances, and how learning went."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline import PersonalStyle
from pipeline.learn_summary import judge
from pipeline.pipeline import METRIC_TAPS

if TYPE_CHECKING:
    from .service import LearnUpdate


def _sig(value: float) -> float:
    return float(f"{value:.4g}") if math.isfinite(value) else value


TAP_WORDS = {"relu1_2": "fine detail", "relu2_2": "texture", "relu3_3": "patterns"}  # what each layer sees
CONTENT_ROW = "change from your photo (relu2_2 content)"


def tap_row(tap: str) -> str:
    """A table row's label in words, the layer in brackets: "distance to the style: texture (relu2_2)"."""
    return f"distance to the style: {TAP_WORDS.get(tap, 'layer')} ({tap})"


def distance_table(series: dict[str, dict[str, float]]) -> pd.DataFrame:
    """``{image label: {tap: relative Gram distance}}`` -> one row per tap, one column per image label."""
    taps = list(next(iter(series.values()), {}))
    rows = [{"measure": tap_row(tap), **{k: _sig(v[tap]) for k, v in series.items()}} for tap in taps]
    return pd.DataFrame(rows, columns=["measure", *series])


def closeness(metrics: dict[str, Any]) -> str:
    """How much closer to the style the output is than the input, in words (mean over layers of the ratio of
    their Gram distances): "58% closer to the style than your photo"."""
    before, after = metrics.get("input_style_loss", {}), metrics.get("style_loss", {})
    return _closeness([after[t] / before[t] for t in after if before.get(t, 0) > 0 and math.isfinite(after[t])])


def closeness_of_table(table: pd.DataFrame) -> str:
    """:func:`closeness` from a :func:`metrics_table` (its style rows' input and output columns)."""
    rows = table[table["measure"].astype(str).str.startswith("distance to the style")]
    pairs = [(float(i), float(o)) for i, o in zip(rows["input"], rows["output"], strict=True)]
    return _closeness([o / i for i, o in pairs if i > 0 and math.isfinite(o)])


def _closeness(ratios: list[float]) -> str:
    if not ratios:
        return "no distance to the style measured"
    gain = 1 - sum(ratios) / len(ratios)
    return (
        f"{gain:.0%} closer to the style than your photo" if gain >= 0.005 else "no closer to the style than your photo"
    )


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
        content = {"measure": CONTENT_ROW, "input": 0.0, "output": _sig(metrics["content_loss"])}
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

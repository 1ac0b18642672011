"""Looks: named, deterministic functions PIL -> PIL with a known ground truth.

Two families make the built-in bank (``python -m training pretrain`` learns each from before/after pairs): photo
presets (:mod:`.presets`: colour and tone grades) and artistic marks (:mod:`.marks`: strokes, outlines, dots,
cells, washes; sizes per 512 px). :func:`random_grade` (:mod:`.grades`) draws random photo presets for the style
encoder. ``benchmarks/held_out_looks.py`` holds the looks that nothing in training sees.
"""

from __future__ import annotations

from .grades import random_grade
from .marks import MARKS
from .presets import PRESETS

LOOKS = {**PRESETS, **MARKS}

__all__ = ["LOOKS", "MARKS", "PRESETS", "random_grade"]

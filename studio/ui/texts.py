"""The app's words: the introduction, and how learning goes or ended."""

from __future__ import annotations

import studio

EMPTY_LEARN_STATUS = "Upload samples: a preview appears at once; **Learn** refines it."


INTRO = """# Personal Style Studio
Restyle a selfie with a built-in look, **learn your own look** from a few pictures, and share it on the Hugging
Face Hub. Next to the result: how much closer it came to the style (Gram-loss distances; lower = closer)."""


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
    left = "estimating the time left" if update.eta is None else f"about {max(1, round(update.eta))} s left"
    return f"Learning your look: step {update.step} of {update.total}, {left}."


def busy_status(eta: float | None) -> str:
    """What a visitor sees who asks to learn while another visitor's run holds the learning slot."""
    wait = "" if eta is None else f", in about {max(1, round(eta))} s"
    return f"Another visitor is learning a style right now. Yours starts when theirs ends{wait}; keep this tab open."

"""A learned style's story in words, from its metadata: the instant mix and which step was kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def describe_mix(mix: Mapping[str, float]) -> str:
    """A zero-shot mix in words, largest share first: ``{"noir": 0.3, "pencil": 0.7}`` -> "70% pencil, 30% noir"
    (shares under 0.5 % are left out)."""
    ranked = sorted(mix.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{weight:.0%} {look}" for look, weight in ranked if weight >= 0.005)


def judge(withheld: int) -> str:
    """What a learning run's validation scores against: ``withheld`` samples, or (0) the ones it fits."""
    return {0: "your samples", 1: "the withheld sample"}.get(withheld, f"the {withheld} withheld samples")


def describe_kept(metadata: Mapping[str, Any], last_step: int) -> str:
    """Which checkpoint a learning run returned, in words ("" when it is the last step); the instant mix only
    when no step could be validated (the run diverged or stopped at once)."""
    kept = metadata.get("kept_step")
    if kept == 0 and last_step:
        return "Learning did not produce a usable step, so you get the instant mix."
    if kept is not None and kept != last_step:
        return f"Kept step {kept}, the best on {judge(metadata.get('withheld') or 0)}."
    return ""

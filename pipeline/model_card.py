"""Model cards of styles: the ``README.md`` (YAML front matter, previews, Gram-loss metrics, how the style was
learned, usage) that ``PersonalStyle.save_pretrained`` writes into every style folder and a push uploads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from huggingface_hub import ModelCardData

if TYPE_CHECKING:
    from .style import PersonalStyle

BASE_REPO = "personal-style-studio/base"
LIBRARY_NAME = "personal-style-studio"
LICENSE = "mit"
CARD_NAME = "README.md"
WEIGHTS_FILE, CONFIG_FILE = "style.safetensors", "style.json"
METRIC_LABELS = {"style_loss": "learned", "zero_shot_style_loss": "zero-shot start", "input_style_loss": "unstyled"}
LEARNING_FIELDS = {
    "samples": "sample pictures",
    "quality": "preset",
    "steps": "steps",
    "seconds": "time",
    "device": "device",
}


def style_model_card(style: PersonalStyle, repo_id: str | None = None, base_model: str = BASE_REPO) -> str:
    """The README.md of a style folder or repo: YAML front matter, previews, Gram-loss metrics, how it was learned,
    usage. ``repo_id``: the Hub repo it is pushed to (None: a local folder)."""
    metadata = ModelCardData(
        library_name=LIBRARY_NAME,
        license=LICENSE,
        base_model=base_model,
        base_model_relation="adapter",
        pipeline_tag="image-to-image",
        tags=[LIBRARY_NAME, "style-transfer", "personal-style", "image-to-image"],
    )
    adapter = f", an adapter ({style.norm_delta.numel()} values)" if style.norm_delta is not None else ""
    if style.color_lut is not None:
        adapter += f", a colour LUT ({style.color_lut.shape[-1]}³ points)"
    where = f'"{repo_id}"' if repo_id else '"path/to/this/folder"  # or its Hub repo id'
    description = style.metadata.get("description") or "A visual style learned from a few sample pictures."
    sections = [
        f"---\n{metadata.to_yaml()}\n---",
        f"# {style.name}\n\n{description}\n\nA style for the Personal Style Studio pipeline "
        f"[`{base_model}`](/{base_model}): a style code ({style.code_dim} values){adapter} for its generator, "
        "with the Gram targets of the sample pictures.",
        _previews_section(style),
        "## Use it\n\nWith the Personal Style Studio code (its `pipeline` package) installed:\n\n"
        "```python\nfrom pipeline import PersonalStyle, PersonalStylePipeline\n\n"
        f'pipe = PersonalStylePipeline.from_pretrained("{base_model}")\n'
        f"style = PersonalStyle.from_pretrained({where})\n"
        "stylized = pipe(selfie, style=style).images[0]  # selfie: a PIL image or a file path\n```",
        _metrics_section(style.metadata.get("metrics")),
        _learning_section(style.metadata),
        f"## Files\n\n- `{WEIGHTS_FILE}`: `code` ({style.code_dim},)"
        + (f", `norm_delta` ({style.norm_delta.numel()},)" if style.norm_delta is not None else "")
        + (f", `color_lut` {tuple(style.color_lut.shape)}" if style.color_lut is not None else "")
        + "".join(f", `gram.{tap}`" for tap in sorted(style.gram))
        + f"\n- `{CONFIG_FILE}`: name and metadata\n\nSafetensors only; nothing here is pickled.",
        f"## Licence\n\n{LICENSE.upper()}. The sample pictures the style was learned from are not included.",
    ]
    return "\n\n".join(sections) + "\n"


def preview_names(style: PersonalStyle) -> list[str]:
    """File names of the style's previews, as ``save_pretrained`` writes them."""
    return [f"preview_{i}.png" for i in range(len(style.previews))]


def _previews_section(style: PersonalStyle) -> str:
    names = preview_names(style)
    if not names:
        return "## Previews\n\nNo previews were saved with this style."
    return "## Previews\n\n" + " ".join(f"![{style.name} preview {i}]({name})" for i, name in enumerate(names))


def _metrics_section(metrics: Any) -> str:
    """A table of per-layer Gram losses: ``{tap: loss}``, or one column per ``{name: {tap: loss}}`` entry."""
    if not isinstance(metrics, dict) or not metrics:
        return "## Style fidelity\n\nNo Gram-loss metrics were recorded for this style."
    columns = {k: v for k, v in metrics.items() if isinstance(v, dict)} or {"Gram loss": metrics}
    layers = sorted({layer for column in columns.values() for layer in column})
    header = "| layer | " + " | ".join(METRIC_LABELS.get(name, name) for name in columns) + " |"
    rows = [f"| {layer} | " + " | ".join(_number(c.get(layer)) for c in columns.values()) + " |" for layer in layers]
    return (
        "## Style fidelity\n\nRelative Gram-matrix distance to the style of the sample pictures, per loss-network "
        "layer, measured on stylized photos (0 = the same texture statistics; lower is closer).\n\n"
        + "\n".join([header, "|" + " --- |" * (len(columns) + 1), *rows])
    )


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "–"


def _learning_section(metadata: dict[str, Any]) -> str:
    rows = []
    for key, label in LEARNING_FIELDS.items():
        value = metadata.get(key)
        if value is None:
            continue
        if key == "samples" and isinstance(value, (list, tuple)):
            value = len(value)
        if key == "seconds":
            value = f"{float(value):.1f} s"
        rows.append(f"| {label} | {value} |")
    if not rows:
        return "## How it was learned\n\nNot recorded (a built-in or hand-made style)."
    return "## How it was learned\n\n| | |\n| --- | --- |\n" + "\n".join(rows)

"""``PersonalStyle``: a style code (+ optional adapter) with metadata, saved as ``style.safetensors`` + ``style.json``.

Layout of a style folder::

    style.safetensors   code (code_dim,), optional norm_delta (norm_params,), optional color_lut (3, n, n, n),
                        gram.<tap> (C, C) targets
    style.json          {"format": "personal-style", "version": 1, "name": ..., "code_dim": ..., ...}
    README.md           the model card (pipeline/model_card.py)
    preview_*.png       optional small previews
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .color import identity_lut
from .model_card import BASE_REPO, CARD_NAME, preview_names, style_model_card
from .style_files import CONFIG_NAME, FORMAT, VERSION, WEIGHTS_NAME


class StyleError(ValueError):
    """A style that cannot be used: the message names the file or field at fault."""


def recover_interrupted_save(path: Path) -> bool:
    """Put back the previous version of a style folder whose overwrite was killed between its two renames
    (``path`` gone, ``.<name>.old`` beside it). Returns whether it did."""
    old = path.with_name(f".{path.name}.old")
    if path.name and not path.exists() and (old / CONFIG_NAME).is_file():
        os.replace(old, path)
        return True
    return False


@dataclass
class PersonalStyle:
    """A learned or built-in look.

    ``code`` is (code_dim,) float32; ``norm_delta`` (norm_params,) or None is the adapter added to the
    generator's per-layer scale/shift; ``gram`` maps loss-net taps to (C, C) Gram targets used for metrics;
    ``color_lut`` (3, n, n, n) or None is a colour transform applied to the generator's output (``pipeline/color.py``).
    """

    name: str
    code: torch.Tensor
    norm_delta: torch.Tensor | None = None
    gram: dict[str, torch.Tensor] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    previews: list[Image.Image] = field(default_factory=list)
    color_lut: torch.Tensor | None = None
    zero_shot: PersonalStyle | None = field(default=None, repr=False, compare=False)  # learning's start; not saved

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise StyleError("style name must be a non-empty string")
        self.code = _check_tensor("code", self.code, ndim=1)
        if self.norm_delta is not None:
            self.norm_delta = _check_tensor("norm_delta", self.norm_delta, ndim=1)
        self.gram = {tap: _check_tensor(f"gram.{tap}", g, ndim=2) for tap, g in self.gram.items()}
        if self.color_lut is not None:
            self.color_lut = _check_tensor("color_lut", self.color_lut, ndim=4)
            n = self.color_lut.shape[-1]
            if self.color_lut.shape != (3, n, n, n) or not MIN_LUT <= n <= MAX_LUT:
                raise StyleError(
                    f"'color_lut' must have shape (3, n, n, n) with n in [{MIN_LUT}, {MAX_LUT}], "
                    f"got {tuple(self.color_lut.shape)}"
                )

    @property
    def code_dim(self) -> int:
        return self.code.numel()

    def __repr__(self) -> str:
        adapter = f", adapter={self.norm_delta.numel()}" if self.norm_delta is not None else ""
        lut = f", lut={self.color_lut.shape[-1]}" if self.color_lut is not None else ""
        return f"PersonalStyle(name={self.name!r}, code_dim={self.code_dim}{adapter}{lut}, taps={sorted(self.gram)})"

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write the folder (weights, ``style.json``, previews and a ``README.md`` model card) atomically: everything
        goes to a temporary sibling that replaces ``path`` at the end."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            tensors = {"code": self.code.float().contiguous()}
            if self.norm_delta is not None:
                tensors["norm_delta"] = self.norm_delta.float().contiguous()
            if self.color_lut is not None:
                tensors["color_lut"] = self.color_lut.float().contiguous()
            tensors.update({f"gram.{tap}": g.half().contiguous() for tap, g in self.gram.items()})
            save_file(tensors, str(tmp / WEIGHTS_NAME), metadata={"format": FORMAT})
            preview_names = []
            for i, preview in enumerate(self.previews):
                preview_names.append(f"preview_{i}.png")
                preview.save(tmp / preview_names[-1])
            config = {
                "format": FORMAT,
                "version": VERSION,
                "name": self.name,
                "code_dim": self.code_dim,
                "norm_params": None if self.norm_delta is None else self.norm_delta.numel(),
                "lut_size": None if self.color_lut is None else self.color_lut.shape[-1],
                "taps": sorted(self.gram),
                "previews": preview_names,
                **{k: v for k, v in self.metadata.items() if k not in _RESERVED},
            }
            (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2, default=_json_default))
            (tmp / CARD_NAME).write_text(style_model_card(self))
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return path

    def push_to_hub(
        self, repo_id: str, token: str | None = None, private: bool = False, base_model: str | None = None
    ) -> str:
        """Upload this style (weights, ``style.json``, previews, a model card) to a Hub repo, created if needed.

        ``token`` defaults to ``$HF_TOKEN``; ``base_model`` (default: the base pipeline repo) is named in the card.
        Returns the repo URL; failures raise ``pipeline.hub.HubError``.
        """
        from .hub import push_style_folder

        with tempfile.TemporaryDirectory() as tmp:
            folder = self.save_pretrained(Path(tmp) / "style")
            card = style_model_card(self, repo_id, base_model or BASE_REPO)
            names = [WEIGHTS_NAME, CONFIG_NAME, *preview_names(self)]
            return push_style_folder(
                folder, names, card, repo_id, token, private, message=f"Upload style {self.name!r}"
            )

    @classmethod
    def from_pretrained(
        cls, path_or_repo_id: str | os.PathLike, revision: str | None = None, token: str | None = None
    ) -> PersonalStyle:
        """Load a style folder, or a Hub repo holding one (``style.safetensors`` + ``style.json`` at its root)."""
        path = Path(path_or_repo_id)
        recover_interrupted_save(path)
        if not path.is_dir():
            from .hub import download_style

            path = download_style(str(path_or_repo_id), revision=revision, token=token)
        return cls.load_folder(path)

    @classmethod
    def load_folder(cls, path: Path) -> PersonalStyle:
        config_path, weights_path = path / CONFIG_NAME, path / WEIGHTS_NAME
        for p in (config_path, weights_path):
            if not p.is_file():
                raise StyleError(f"{p}: missing; a style folder holds {WEIGHTS_NAME} and {CONFIG_NAME}")
        try:
            config = json.loads(config_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: deep nesting
            raise StyleError(f"{config_path}: not valid JSON ({type(exc).__name__}: {str(exc)[:200]})") from None
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise StyleError(f"{config_path}: 'format' must be {FORMAT!r}")
        if config.get("version") != VERSION:
            raise StyleError(
                f"{config_path}: unsupported 'version' {config.get('version')!r} (this code reads {VERSION})"
            )
        try:
            tensors = load_file(str(weights_path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise StyleError(f"{weights_path}: not a readable safetensors file ({exc})") from None
        if "code" not in tensors:
            raise StyleError(f"{weights_path}: no 'code' tensor")
        code_dim = config.get("code_dim")
        if tensors["code"].shape != (code_dim,):
            raise StyleError(
                f"{weights_path}: 'code' has shape {tuple(tensors['code'].shape)}, style.json says code_dim={code_dim}"
            )
        norm_delta = tensors.get("norm_delta")
        if norm_delta is not None and norm_delta.shape != (config.get("norm_params"),):
            raise StyleError(
                f"{weights_path}: 'norm_delta' has shape {tuple(norm_delta.shape)}, style.json says norm_params={config.get('norm_params')}"
            )
        color_lut = tensors.get("color_lut")
        lut_size = config.get("lut_size")
        if color_lut is not None and (color_lut.dim() != 4 or color_lut.shape[-1] != lut_size):
            raise StyleError(
                f"{weights_path}: 'color_lut' has shape {tuple(color_lut.shape)}, style.json says lut_size={lut_size}"
            )
        gram = {k.removeprefix("gram."): v.float() for k, v in tensors.items() if k.startswith("gram.")}
        previews = _load_previews(path, config.get("previews", []), config_path)
        metadata = {k: v for k, v in config.items() if k not in _RESERVED}
        try:
            return cls(
                str(config.get("name") or path.name),
                tensors["code"].float(),
                norm_delta,
                gram,
                metadata,
                previews,
                None if color_lut is None else color_lut.float(),
            )
        except StyleError as exc:
            raise StyleError(f"{weights_path}: {exc}") from None


_RESERVED = {"format", "version", "name", "code_dim", "norm_params", "lut_size", "taps", "previews"}
MIN_LUT, MAX_LUT = 2, 65


def _load_previews(folder: Path, names: Any, config_path: Path) -> list[Image.Image]:
    """The preview images ``style.json`` lists (file names inside ``folder`` only; missing ones are skipped)."""
    from .images import ImageError, load_image

    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise StyleError(f"{config_path}: 'previews' must be a list of file names")
    previews = []
    for name in names:
        preview_path = folder / Path(name).name
        if preview_path.is_file():
            try:
                previews.append(load_image(preview_path))
            except ImageError as exc:
                raise StyleError(f"unusable preview: {exc}") from None
    return previews


def _check_tensor(name: str, value: Any, ndim: int) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise StyleError(f"'{name}' must be a tensor, got {type(value).__name__}")
    if value.dim() != ndim:
        raise StyleError(f"'{name}' must have {ndim} dimension(s), got shape {tuple(value.shape)}")
    value = value.detach().float().cpu()
    if not torch.isfinite(value).all():
        raise StyleError(f"'{name}' contains NaN or infinite values")
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in style.json")


def mix_styles(styles: list[tuple[PersonalStyle, float]], name: str | None = None) -> PersonalStyle:
    """Weighted mix of styles: codes, adapters (missing = zero), colour LUTs (missing = identity) and Gram targets
    averaged with normalised weights."""
    if not styles:
        raise StyleError("a style mix needs at least one style")
    weights = [float(w) for _, w in styles]
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise StyleError(f"style mix weights must be finite, non-negative and not all zero, got {weights}")
    dims = {s.code_dim for s, _ in styles}
    if len(dims) > 1:
        raise StyleError(f"cannot mix styles with different code sizes {sorted(dims)}")
    total = sum(weights)
    weights = [w / total for w in weights]
    code = sum(w * s.code for (s, _), w in zip(styles, weights))
    deltas = [s.norm_delta for s, _ in styles if s.norm_delta is not None]
    norm_delta = None
    if deltas:
        zero = torch.zeros_like(deltas[0])
        norm_delta = sum(w * (s.norm_delta if s.norm_delta is not None else zero) for (s, _), w in zip(styles, weights))
    luts = [s.color_lut for s, _ in styles if s.color_lut is not None]
    color_lut = None
    if luts:
        sizes = {lut.shape[-1] for lut in luts}
        if len(sizes) > 1:
            raise StyleError(f"cannot mix styles with colour LUTs of different sizes {sorted(sizes)}")
        identity = identity_lut(luts[0].shape[-1])
        color_lut = sum(
            w * (s.color_lut if s.color_lut is not None else identity) for (s, _), w in zip(styles, weights)
        )
    taps = set.intersection(*(set(s.gram) for s, _ in styles))
    gram = {t: sum(w * s.gram[t] for (s, _), w in zip(styles, weights)) for t in sorted(taps)}
    label = name or " + ".join(f"{w:.2f}×{s.name}" for (s, _), w in zip(styles, weights))
    mix = {"mix": {s.name: w for (s, _), w in zip(styles, weights)}}
    return PersonalStyle(label, code, norm_delta, gram, mix, color_lut=color_lut)

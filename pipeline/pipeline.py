"""``PersonalStylePipeline``: restyle images with a built-in, learned or mixed style and report Gram metrics."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput
from PIL import Image

from .color import apply_lut, lut_toward_identity
from .discriminator import Discriminator
from .faces import Box, detect_faces, face_mask
from .generator import Generator
from .images import ImageInput, fit_long_side, load_image, load_mask, pil_to_tensor, tensor_to_pil
from .loss_net import LossNet
from .losses import relative_gram_distance
from .onnx_backend import MODEL_NAME, ONNX_FOLDER, RECORD_NAME, OnnxGenerator, torch_forced
from .style import PersonalStyle, StyleError, mix_styles
from .style_encoder import StyleEncoder
from .tiling import FULL_FRAME_PIXELS, stylize_tiled

PHOTO = "photo"
METRIC_TAPS = ("relu1_2", "relu2_2", "relu3_3")
CONTENT_TAP = "relu2_2"
METRIC_LONG_SIDE = 256  # metrics are computed on a copy with this long side (cheap, size independent)
METRIC_MIN_SIDE = 16  # metrics see at least this short side (relu4_3 sits after three 2x poolings)
StyleSpec = str | PersonalStyle | dict


@dataclass
class PersonalStyleOutput(BaseOutput):
    """``images``: stylised PIL images, same sizes as the inputs. ``metrics``: one dict per image with
    ``style_loss`` ({tap: relative Gram distance of the output to the style}), ``input_style_loss`` (the same
    for the input), ``content_loss`` (relative relu2_2 distance of the output to the input). ``faces``: the
    (x, y, w, h) face boxes found in each image when ``face_protect`` > 0, else None."""

    images: list[Image.Image]
    metrics: list[dict[str, Any]]
    faces: list[list[Box]] | None = None


def blend_regions(original: torch.Tensor, stylized: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``original + alpha * (stylized - original)`` for (1, 3, H, W) images and an (H, W) ``alpha`` in [0, 1],
    exact where alpha is 0 (the original) or 1 (the stylised image)."""
    alpha = alpha.to(stylized)[None, None]
    mixed = stylized + (1.0 - alpha) * (original - stylized)
    return torch.where(alpha == 1.0, stylized, torch.where(alpha == 0.0, original, mixed))


def preserve_colors(stylized: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """Keep the stylised luminance, take chroma (YCbCr) from the original; both (B, 3, H, W) in [0, 1]."""
    to_ycc = stylized.new_tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
    y = torch.einsum("ij,bjhw->bihw", to_ycc[:1], stylized)
    cbcr = torch.einsum("ij,bjhw->bihw", to_ycc[1:], original)
    r = y + 1.402 * cbcr[:, 1:2]
    g = y - 0.344136 * cbcr[:, :1] - 0.714136 * cbcr[:, 1:2]
    b = y + 1.772 * cbcr[:, :1]
    return torch.cat([r, g, b], 1).clamp(0, 1)


class PersonalStylePipeline(DiffusionPipeline):
    """Generator + loss net (+ discriminator and style encoder for learning) and a bank of named styles
    (``self.styles``).

    ``onnx_generator``: the generator's ONNX export (``onnx/`` of the loaded folder, see ``pipeline/onnx_backend.py``)
    when it matches the loaded weights; used on CPU unless ``PSS_BACKEND=torch``."""

    _optional_components = ["discriminator", "style_encoder"]
    max_full_frame_pixels: int = FULL_FRAME_PIXELS  # larger images run in tiles (lower it to save memory)

    def __init__(
        self,
        generator: Generator,
        loss_net: LossNet,
        discriminator: Discriminator | None = None,
        style_encoder: StyleEncoder | None = None,
    ):
        super().__init__()
        self.register_modules(
            generator=generator, loss_net=loss_net, discriminator=discriminator, style_encoder=style_encoder
        )
        self.styles: dict[str, PersonalStyle] = {}
        self.onnx_generator: OnnxGenerator | None = None

    # --- loading and saving -------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls, path_or_repo_id: str | os.PathLike, revision: str | None = None, token: str | None = None, **kwargs
    ) -> PersonalStylePipeline:
        """Load a ``save_pretrained`` folder or a Hub repo (safetensors only) with its style bank."""
        path = Path(path_or_repo_id)
        if not path.is_dir():
            from .hub import download_pipeline

            path = download_pipeline(str(path_or_repo_id), revision=revision, token=token)
        if not (path / "model_index.json").is_file():
            raise FileNotFoundError(f"{path}: no model_index.json; not a pipeline folder")
        kwargs.setdefault("dtype", torch.float32)
        pipe = super().from_pretrained(path, use_safetensors=True, **kwargs)
        pipe.styles = load_style_bank(path / "styles")
        pipe.onnx_generator = OnnxGenerator.load(path, pipe.generator)
        return pipe

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs) -> None:
        """Save the components, the style bank and, while it still matches the generator, the ONNX export.

        diffusers rewrites only ``model_index.json`` and the component folders, so an ``onnx/`` folder already in
        ``save_directory`` stays; its recorded weights hash then tells at load time whether it is still current."""
        super().save_pretrained(save_directory, safe_serialization=True, **kwargs)
        for name, style in self.styles.items():
            style.save_pretrained(Path(save_directory) / "styles" / name)
        if self.onnx_generator is not None and self.onnx_generator.matches(self.generator):
            target = Path(save_directory) / ONNX_FOLDER
            source = self.onnx_generator.model.parent
            if target.resolve() != source.resolve():
                target.mkdir(parents=True, exist_ok=True)
                for name in (MODEL_NAME, RECORD_NAME):
                    shutil.copyfile(source / name, target / name)

    # --- inputs --------------------------------------------------------------------------------------------
    def resolve_style(self, style: StyleSpec, session: Mapping[str, PersonalStyle] | None = None) -> PersonalStyle:
        """A bank name, a local style folder, a ``PersonalStyle`` or a ``{name_or_style: weight}`` mix, checked
        against the generator. Nothing is downloaded here: a Hub style is loaded explicitly with
        ``PersonalStyle.from_pretrained(repo_id)``.

        ``session`` (an app visitor's own styles by name) is looked up before the bank, and when it is given only
        names resolve: a server never reads a folder a visitor names."""
        if isinstance(style, PersonalStyle):
            resolved = style
        elif isinstance(style, dict):
            resolved = mix_styles([(self.resolve_style(s, session), w) for s, w in style.items()])
        elif isinstance(style, str):
            if session is not None and style in session:
                resolved = session[style]
            elif style in self.styles:
                resolved = self.styles[style]
            elif session is not None:
                raise StyleError(f"unknown style {style!r}; pick one from the list")
            elif Path(style).is_dir():
                resolved = PersonalStyle.from_pretrained(style)
            else:
                hint = (
                    f"; a Hub style is loaded explicitly: PersonalStyle.from_pretrained({style!r})"
                    if style.count("/") == 1
                    else ""
                )
                raise StyleError(
                    f"unknown style {style!r}; built-in styles: {', '.join(sorted(self.styles))}, or a style folder"
                    + hint
                )
        else:
            raise StyleError(
                f"style must be a name, a PersonalStyle or a {{style: weight}} dict, got {type(style).__name__}"
            )
        self.check_style(resolved)
        return resolved

    def check_style(self, style: PersonalStyle) -> None:
        cfg = self.generator.config
        if style.code_dim != cfg.code_dim:
            raise StyleError(
                f"style {style.name!r} has a {style.code_dim}-value code; this generator takes {cfg.code_dim}"
            )
        if style.norm_delta is not None and style.norm_delta.numel() != self.generator.norm_params:
            raise StyleError(
                f"style {style.name!r} has a {style.norm_delta.numel()}-value adapter; "
                f"this generator takes {self.generator.norm_params}"
            )

    def photo_style(self) -> PersonalStyle:
        if PHOTO not in self.styles:
            raise StyleError(f"the style bank has no {PHOTO!r} style, needed for strength < 1")
        return self.styles[PHOTO]

    # --- the work ------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def style_metrics(self, image: torch.Tensor, original: torch.Tensor, style: PersonalStyle) -> dict[str, Any]:
        """Per-layer relative Gram distance of ``image`` and ``original`` (1, 3, H, W) to ``style``, and content."""
        if not style.gram:
            raise StyleError(f"style {style.name!r} carries no Gram targets; metrics need them")
        taps = tuple(t for t in METRIC_TAPS if t in style.gram)
        small = [fit_long_side(tensor_to_pil(t), METRIC_LONG_SIDE) for t in (image, original)]
        if min(small[0].size) < METRIC_MIN_SIDE:  # thin or tiny images: the loss net's pooling needs some height
            scale = METRIC_MIN_SIDE / min(small[0].size)
            size = (round(small[0].size[0] * scale), round(small[0].size[1] * scale))
            small = [s.resize(size, Image.Resampling.BICUBIC) for s in small]
        batch = torch.cat([pil_to_tensor(s) for s in small]).to(self.device)
        feats = self.loss_net(batch, tuple(set(taps) | {CONTENT_TAP}))
        out_loss, in_loss = {}, {}
        for tap in taps:
            distance = relative_gram_distance(feats[tap], style.gram[tap].to(self.device))
            out_loss[tap], in_loss[tap] = float(distance[0]), float(distance[1])
        content = feats[CONTENT_TAP]
        content_loss = float((content[0] - content[1]).pow(2).mean() / content[1].pow(2).mean().clamp_min(1e-12))
        return {"style": style.name, "style_loss": out_loss, "input_style_loss": in_loss, "content_loss": content_loss}

    @torch.inference_mode()
    def stylize_tensor(
        self, x: torch.Tensor, style_code: torch.Tensor, norm_delta: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(1, 3, H, W) in [0, 1] -> stylised (1, 3, H, W). Images of more than ``max_full_frame_pixels`` run in
        seamless tiles (``pipeline/tiling.py``) to bound memory; others in ONNX Runtime where
        :meth:`onnx_ready`, else in PyTorch (channels-last)."""
        delta = None if norm_delta is None else norm_delta.to(self.device)[None]
        code = style_code.to(self.device)[None]
        if x.shape[2] * x.shape[3] <= self.max_full_frame_pixels and self.onnx_ready():
            return self.onnx_generator(x, self.generator.norm_affine(code, delta))
        x = x.to(self.device).contiguous(memory_format=torch.channels_last)
        if x.shape[2] * x.shape[3] > self.max_full_frame_pixels:
            return stylize_tiled(self.generator, x, code, delta, stats_pixels=self.max_full_frame_pixels)
        return self.generator(x, code, delta)

    def onnx_ready(self) -> bool:
        """Whether the generator runs in ONNX Runtime: a current export was loaded (``onnx_generator``), the
        pipeline is on CPU in float32, its generator is unchanged since loading, and ``PSS_BACKEND`` is not torch."""
        return (
            self.onnx_generator is not None
            and not torch_forced()
            and self.device.type == "cpu"
            and self.generator.dtype == torch.float32
            and self.onnx_generator.matches(self.generator)
        )

    def __call__(
        self,
        images: ImageInput | list[ImageInput],
        style: StyleSpec,
        strength: float = 1.0,
        preserve_color: bool = False,
        metrics: bool = True,
        face_protect: float = 0.0,
        mask: np.ndarray | Image.Image | list[np.ndarray | Image.Image] | None = None,
    ) -> PersonalStyleOutput:
        """Restyle ``images`` (one or a list) with ``style``.

        ``strength`` in [0, 1] moves the style code toward the photo style (0 = photo style, 1 = the style);
        ``preserve_color`` keeps the input's colours (chroma) and takes the style's luminance.
        ``face_protect`` in [0, 1] keeps faces recognisable: inside a feathered ellipse over each detected face
        the stylised image is blended back toward the input by this amount (1 = the face stays the photo).
        ``mask`` (one for all images, or one per image; see ``images.load_mask``) restricts the style to its
        painted regions: white/1 = stylise, black/0 = keep the input. Elsewhere the output is the plain one.
        """
        # 1. check inputs
        if not isinstance(strength, (int, float)) or not 0.0 <= float(strength) <= 1.0:
            raise ValueError(f"strength must be a number in [0, 1], got {strength!r}")
        if not isinstance(face_protect, (int, float)) or not 0.0 <= float(face_protect) <= 1.0:
            raise ValueError(f"face_protect must be a number in [0, 1], got {face_protect!r}")
        batch = images if isinstance(images, (list, tuple)) else [images]
        if not batch:
            raise ValueError("images is empty")
        masks = mask if isinstance(mask, (list, tuple)) else [mask] * len(batch)
        if len(masks) != len(batch):
            raise ValueError(f"got {len(masks)} masks for {len(batch)} images; pass one mask or one per image")
        pil_images = [load_image(image) for image in batch]
        regions = [None if m is None else load_mask(m, image.size) for m, image in zip(masks, pil_images, strict=True)]
        target = self.resolve_style(style)
        # 2. the code at this strength: interpolate toward the photo code (not a pixel blend), the LUT toward identity
        code, delta, lut = target.code, target.norm_delta, target.color_lut
        if strength < 1.0:
            photo = self.photo_style()
            code = photo.code + float(strength) * (code - photo.code)
            delta = None if delta is None else float(strength) * delta
            lut = None if lut is None else lut_toward_identity(lut, strength)
        # 3. stylise each image at its own size, keep faces and unpainted regions, then measure
        outputs, all_metrics, all_faces = [], [], []
        work = list(zip(pil_images, regions, strict=True))
        for image, region in self.progress_bar(work) if len(work) > 1 else work:
            x = pil_to_tensor(image)
            y = self.stylize_tensor(x, code, delta).float().cpu()
            if lut is not None:
                y = apply_lut(y, lut)
            if preserve_color:
                y = preserve_colors(y, x)
            alpha = np.ones((image.height, image.width), np.float32) if region is None else region
            if face_protect > 0:
                all_faces.append(detect_faces(image))
                alpha = alpha * (1.0 - float(face_protect) * face_mask(image.size, all_faces[-1]))
            if region is not None or face_protect > 0:
                y = blend_regions(x, y, torch.from_numpy(alpha))
            outputs.append(tensor_to_pil(y))
            all_metrics.append(self.style_metrics(y, x, target) if metrics and target.gram else {})
        return PersonalStyleOutput(images=outputs, metrics=all_metrics, faces=all_faces if face_protect > 0 else None)

    def learn_style(
        self,
        samples: ImageInput | list[ImageInput],
        *,
        quality: str = "fast",
        seed: int = 0,
        content: list[ImageInput] | None = None,
        pairs: list[tuple[ImageInput, ImageInput]] | None = None,
        steps: int | None = None,
        size: int | None = None,
        callback: Callable[[int, int, dict[str, float], Image.Image | None], bool | None] | None = None,
        name: str = "my-style",
    ) -> PersonalStyle:
        """Learn a new style from 1–20 ``samples`` (PIL images or paths, 64 px or more) — see ``pipeline/learn.py``.

        ``quality`` picks a preset ("instant": the zero-shot mix of bank styles, no steps; "fast": the style code;
        "balanced"/"best": + per-layer adapters, larger crops, more steps);
        ``content`` are photos to restyle while learning (default: the built-in set in ``weights/content``);
        ``pairs`` are (before, after) images of the look, learned with a paired L1 + perceptual loss;
        ``steps``/``size`` override the preset. ``callback(step, total, losses, preview)`` runs at step 0 with the
        zero-shot start's preview, then after every step, and stops the run (returning the best style so far) by
        returning True. The shared weights never change.
        """
        from .learn import learn, load_inputs, preset

        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        if callback is not None and not callable(callback):
            raise ValueError(f"callback must be callable, got {type(callback).__name__}")
        config = preset(quality, steps=steps, size=size)
        inputs = load_inputs(samples, content=content, pairs=pairs)
        return learn(self, inputs, config, name=name, seed=seed, callback=callback, quality=quality)


def load_style_bank(folder: Path) -> dict[str, PersonalStyle]:
    """Every style folder under ``folder`` (sorted by name); an empty dict if there is none."""
    if not folder.is_dir():
        return {}
    return {
        p.name: PersonalStyle.load_folder(p)
        for p in sorted(folder.iterdir())
        if not p.name.startswith(".") and (p / "style.json").is_file()  # not the temporaries of an atomic save
    }

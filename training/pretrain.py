"""Pairs-first pretraining of the generator and its style bank: before/after pairs teach the built-in looks.

Every paired look is a function f of ``training/looks``; its pairs are (photo, f(photo)) at a fixed long side,
so G(x | code) learns f with L1 on pixels and on image gradients (no loss-net pass: a step is cheap on a CPU).
Bank styles without a look function (``distill``: the photo itself and the wallpaper textures) are taught by the
starting generator's own output, so they keep rendering while the shared weights change. The generator and one
code per style are trained together; the run starts from a pipeline folder (``weights``) and resumes from its
last checkpoint.

    python -m training pretrain --config training/configs/pretrain.json --out runs/pretrain
    python -m training export runs/pretrain OUT_WEIGHTS     # a pipeline folder with the new generator and bank
"""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from pipeline import Generator, PersonalStylePipeline
from pipeline.color import apply_lut
from pipeline.losses import paired_loss
from pipeline.pipeline import PHOTO

from . import looks
from .run_folder import CHECKPOINT, read_recipe, save_run_state, start_run


@dataclass
class PretrainConfig:
    """One pretraining recipe (``training/configs/pretrain.json``)."""

    weights: str = "weights"  # starting pipeline folder: generator, loss net, bank codes of the distilled styles
    content: str = "data/content"  # photos made by scripts/fetch_data.py
    exclude: list[str] = field(default_factory=list)  # photo stems never trained on (the evaluation photos)
    validation: list[str] = field(default_factory=list)  # photo stems used only to validate
    looks: list[str] = field(default_factory=list)  # paired looks from training/looks; empty: all of them
    distill: list[str] = field(default_factory=lambda: [PHOTO])  # bank styles the starting generator teaches
    style_weights: dict[str, float] = field(default_factory=dict)  # how often a style is drawn (default 1 each)
    long_side: int = 512  # photos and their looks are rendered at this long side (looks are defined per 512 px)
    crop: int = 128
    batch: int = 8
    steps: int = 20000
    lr: float = 2e-4
    code_lr: float = 2e-3
    warmup: int = 200
    grad_weight: float = 1.0  # L1 on image gradients next to L1 on pixels
    clip: float = 1.0  # gradient-norm clipping
    dither: float = 1.0 / 255  # uniform input noise: an exactly flat crop makes every instance norm's gradient
    min_std: float = 2.0 / 255  # blow up by 1/sqrt(eps), so crops flatter than this are drawn again
    checkpoint_every: int = 200
    validate_every: int = 1000
    seed: int = 0

    def style_names(self) -> list[str]:
        paired = self.looks or list(looks.LOOKS)
        unknown = [name for name in paired if name not in looks.LOOKS]
        if unknown:
            raise ValueError(f"unknown looks {unknown}; training/looks has {sorted(looks.LOOKS)}")
        return [*self.distill, *[name for name in paired if name not in self.distill]]

    def draw_weights(self) -> list[float]:
        """Relative sampling weight of each of :meth:`style_names`, from ``style_weights`` (default 1)."""
        names = self.style_names()
        unknown = sorted(set(self.style_weights) - set(names))
        if unknown or any(not w > 0 for w in self.style_weights.values()):
            raise ValueError(
                f"style_weights: positive weights for styles of the recipe {names}; got {self.style_weights}"
            )
        return [float(self.style_weights.get(name, 1.0)) for name in names]


def load_config(path: str | os.PathLike) -> PretrainConfig:
    return read_recipe(path, PretrainConfig, "pretraining")


def look_version(name: str) -> str:
    """A short hash of a look's source, so cached targets are rebuilt when its function changes."""
    return hashlib.sha1(inspect.getsource(looks.LOOKS[name]).encode()).hexdigest()[:8]


class Pairs:
    """Content photos and each style's target for each photo, rendered on first use and cached under ``cache``."""

    def __init__(self, config: PretrainConfig, pipe: PersonalStylePipeline, cache: Path):
        paths = sorted(p for p in Path(config.content).glob("*.jpg") if p.stem not in config.exclude)
        if not paths:
            raise FileNotFoundError(f"{config.content}: no photos; run python -m scripts.fetch_data data")
        self.config, self.pipe, self.cache = config, pipe, cache
        self.names = config.style_names()
        self.stems = [p.stem for p in paths]
        self.photos = [self._load(p) for p in paths]
        self.train = [i for i, s in enumerate(self.stems) if s not in config.validation]
        self.val = [i for i, s in enumerate(self.stems) if s in config.validation]
        self.targets: dict[tuple[int, int], np.ndarray] = {}

    def _load(self, path: Path) -> np.ndarray:
        image = Image.open(path).convert("RGB")
        scale = self.config.long_side / max(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        return np.asarray(image.resize(size, Image.Resampling.LANCZOS))

    def target(self, style: int, photo: int) -> np.ndarray:
        """(H, W, 3) uint8 target of style ``style`` for photo ``photo``."""
        key = (style, photo)
        if key not in self.targets:
            name = self.names[style]
            folder = self.cache / (name if name in self.config.distill else f"{name}-{look_version(name)}")
            path = folder / f"{self.stems[photo]}.png"
            if path.exists():
                self.targets[key] = np.asarray(Image.open(path).convert("RGB"))
            else:
                self.targets[key] = self._render(name, self.photos[photo])
                folder.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp.png")
                Image.fromarray(self.targets[key]).save(tmp)
                os.replace(tmp, path)
        return self.targets[key]

    @torch.no_grad()
    def _render(self, name: str, photo: np.ndarray) -> np.ndarray:
        if name not in self.config.distill:
            return np.asarray(looks.LOOKS[name](Image.fromarray(photo)).convert("RGB"))
        if name == PHOTO:
            return photo
        style = self.pipe.styles[name]
        x = torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].float() / 255
        y = self.pipe.generator(x, style.code[None], None if style.norm_delta is None else style.norm_delta[None])
        if style.color_lut is not None:
            y = apply_lut(y, style.color_lut)
        return (y[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)

    def window(self, style: int, photo: int, top: int, left: int, side: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The (3, S, S) window at (top, left) of a photo and of its target, in [0, 1]."""
        x, y = self.photos[photo], self.target(style, photo)
        return tuple(
            torch.from_numpy(np.ascontiguousarray(a[top : top + side, left : left + side])).permute(2, 0, 1).float()
            / 255
            for a in (x, y)
        )

    def batch(self, styles: list[int], rng: random.Random) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
        """Aligned crops of random training photos and their targets for ``styles``, (B, 3, S, S) each, all at one
        random position, which is returned as the generator's ``origin``: looks with a fixed grid (halftone,
        screentone) stay in phase with the generator's pattern branch. No flips: strokes have a direction. A
        photo that is flat at that position is swapped for another."""
        side = self.config.crop
        photos = [rng.choice(self.train) for _ in styles]
        h = min(self.photos[p].shape[0] for p in photos)
        w = min(self.photos[p].shape[1] for p in photos)
        top, left = rng.randrange(h - side + 1), rng.randrange(w - side + 1)
        xs, ys = [], []
        for style, photo in zip(styles, photos, strict=True):
            for _ in range(10):
                x = self.photos[photo][top : top + side, left : left + side]
                if x.std(axis=(0, 1)).max() >= self.config.min_std * 255:
                    break
                photo = rng.choice(self.train)
            x, y = self.window(style, photo, top, left, side)
            xs.append(x)
            ys.append(y)
        return torch.stack(xs), torch.stack(ys), (top, left)

    def centre(self, photo: int, side: int = 256) -> tuple[int, int]:
        """(top, left) of the centre window of a photo."""
        h, w = self.photos[photo].shape[:2]
        return (h - side) // 2, (w - side) // 2


def start_codes(pipe: PersonalStylePipeline, names: list[str], seed: int) -> torch.Tensor:
    """(S, code_dim): the bank's code for a style it has, else the photo code plus noise at the bank's spread."""
    bank = torch.stack([s.code for s in pipe.styles.values()])
    noise = torch.Generator().manual_seed(seed)
    photo = pipe.styles[PHOTO].code
    return torch.stack(
        [
            pipe.styles[n].code.clone()
            if n in pipe.styles
            else photo + bank.std(0) * torch.randn(photo.shape, generator=noise)
            for n in names
        ]
    )


def lr_factor(step: int, config: PretrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10 %."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def validate(generator: Generator, codes: torch.Tensor, pairs: Pairs, config: PretrainConfig) -> dict[str, float]:
    """Per style: paired loss of G(x) to f(x) on the validation photos' centre crops, and of x itself."""
    generator.eval()
    out = {}
    for style, name in enumerate(pairs.names):
        ours = photo = 0.0
        for index in pairs.val:
            origin = pairs.centre(index)
            x, y = pairs.window(style, index, *origin, 256)
            output = generator(x[None], codes[style : style + 1], origin=origin)
            ours += float(paired_loss(output, y[None], config.grad_weight))
            photo += float(paired_loss(x[None], y[None], config.grad_weight))
        out[name] = [round(ours / len(pairs.val), 5), round(photo / len(pairs.val), 5)]
    generator.train()
    return out


def resume(out: Path, generator: Generator, codes: torch.Tensor, names: list[str], optimizer) -> tuple[int, dict]:
    """Load ``out/checkpoint.pt`` if any; styles new to the recipe keep their start codes. -> (step, history)."""
    path = out / CHECKPOINT
    if not path.exists():
        return 0, {"train": [], "validation": [], "skipped": 0}
    state = torch.load(path, weights_only=False)
    generator.load_state_dict(state["generator"])
    old = dict(zip(state["names"], state["codes"], strict=True))
    with torch.no_grad():
        for i, name in enumerate(names):
            if name in old:
                codes[i] = old[name]
    if state["names"] == names:
        optimizer.load_state_dict(state["optimizer"])
    random.setstate(state["rng"])
    return state["step"], state["history"]


def train_step(
    generator: Generator,
    codes: torch.nn.Parameter,
    optimizer: torch.optim.Optimizer,
    pairs: Pairs,
    styles: list[int],
    config: PretrainConfig,
) -> tuple[list[float], bool]:
    """One step on a batch of ``styles`` -> (each crop's paired loss, whether the gradient was finite and taken)."""
    x, y, origin = pairs.batch(styles, random)
    x = (x + config.dither * (torch.rand_like(x) - 0.5)).clamp(0, 1)
    output = generator(x, codes[styles], origin=origin)
    losses = [paired_loss(output[i : i + 1], y[i : i + 1], config.grad_weight) for i in range(len(styles))]
    optimizer.zero_grad(set_to_none=True)
    torch.stack(losses).mean().backward()
    norm = torch.nn.utils.clip_grad_norm_([*generator.parameters(), codes], config.clip)
    finite = bool(torch.isfinite(norm))
    if finite:
        optimizer.step()
    return [float(value.detach()) for value in losses], finite


def pretrain(config: PretrainConfig, out: Path, threads: int | None = None) -> Path:
    """Train (or resume from ``out/checkpoint.pt``) for ``config.steps`` steps; returns ``out``."""
    start_run(out, config, threads)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    pipe = PersonalStylePipeline.from_pretrained(config.weights)
    pipe.generator.requires_grad_(False).eval()
    pairs = Pairs(config, pipe, out / "pairs")
    generator = Generator.from_pretrained(Path(config.weights) / "generator").train()
    codes = torch.nn.Parameter(start_codes(pipe, pairs.names, config.seed))
    optimizer = torch.optim.AdamW(
        [
            {"params": generator.parameters(), "lr": config.lr},
            {"params": [codes], "lr": config.code_lr, "weight_decay": 0},
        ],
        weight_decay=1e-5,
    )
    step, history = resume(out, generator, codes.data, pairs.names, optimizer)
    draw = config.draw_weights()
    running: dict[str, float] = {}
    bar = tqdm(total=config.steps, initial=step, desc="pretrain", dynamic_ncols=True)
    started = time.time()
    while step < config.steps:
        for group, base in zip(optimizer.param_groups, (config.lr, config.code_lr), strict=True):
            group["lr"] = base * lr_factor(step, config)
        styles = random.choices(range(len(pairs.names)), weights=draw, k=config.batch)
        losses, finite = train_step(generator, codes, optimizer, pairs, styles, config)
        history["skipped"] += not finite  # a step with a non-finite gradient is never taken, only counted
        for s, value in zip(styles, losses, strict=True):
            running[pairs.names[s]] = 0.98 * running.get(pairs.names[s], value) + 0.02 * value
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{sum(losses) / len(losses):.4f}", skipped=history["skipped"])
        if step % config.checkpoint_every == 0 or step == config.steps:
            history["train"].append({"step": step, "seconds": round(time.time() - started), **running})
            if step % config.validate_every == 0 or step == config.steps:
                history["validation"].append({"step": step, **validate(generator, codes.data, pairs, config)})
            state = {
                "generator": generator.state_dict(),
                "codes": codes.data.clone(),
                "names": pairs.names,
                "optimizer": optimizer.state_dict(),
                "step": step,
                "history": history,
                "rng": random.getstate(),
                "config": asdict(config),
            }
            save_run_state(out, state, history)
    bar.close()
    return out

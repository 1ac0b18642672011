"""Train the style encoder (``pipeline/style_encoder.py``) on random looks: samples of a look on some photos ->
mixture weights over the bank and a colour LUT, judged by how close LUT(G(y | mixed code)) comes to look(y) on
*other* photos y.

Looks are drawn at random from three families: random colour grades (``training/looks/grades.py``), random
mixes of the bank's styles (the frozen generator renders them, sometimes followed by a random grade) and the
procedural looks of ``training/looks``. Pairs cost no loss-net backward pass: the loss is L1 on pixels and on
image gradients, so a step is cheap on a CPU. The generator and the bank never change.

    python -m training encoder --config training/configs/encoder.json --out runs/encoder
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from pipeline import PersonalStylePipeline
from pipeline.color import apply_lut
from pipeline.losses import lut_smoothness, paired_loss
from pipeline.style_encoder import STAT_SIDE, StyleEncoder, sample_statistics

from . import looks
from .run_folder import CHECKPOINT, read_recipe, save_run_state, start_run

EXPORT = "style_encoder"


@dataclass
class EncoderConfig:
    """One encoder-training recipe (``training/configs/*.json``)."""

    weights: str = "weights"  # the pipeline folder: frozen generator, loss net and style bank
    content: str = "data/content"  # photos (long side >= 256), made by scripts/fetch_data.py
    exclude: list[str] = field(default_factory=list)  # photo stems kept out (the benchmarks' photos)
    validation: list[str] = field(default_factory=list)  # photo stems used only to validate
    steps: int = 4000
    looks_per_step: int = 4
    max_samples: int = 5
    targets_per_look: int = 2
    crop: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    grade_share: float = 0.5  # share of random colour grades; the rest is split below
    bank_share: float = 0.3  # share of random bank mixes (the rest: procedural looks)
    grade_after_bank: float = 0.3  # chance that a bank mix is followed by a random grade
    grad_weight: float = 1.0  # L1 on image gradients (marks), next to L1 on pixels
    lut_smooth_weight: float = 0.1  # squared differences of neighbouring LUT entries
    validate_every: int = 250
    validation_looks: int = 24
    normalisation_looks: int = 96  # looks whose statistics set the encoder's standardisation at the start
    seed: int = 0


def load_config(path: str | os.PathLike) -> EncoderConfig:
    return read_recipe(path, EncoderConfig, "encoder")


def load_photos(config: EncoderConfig) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(training, validation) photos as (H, W, 3) float32 arrays, long side 256."""
    paths = sorted(Path(config.content).glob("*.jpg"))
    if not paths:
        raise FileNotFoundError(f"{config.content}: no photos; run python -m scripts.fetch_data data")
    train, val = [], []
    for path in paths:
        if path.stem in config.exclude:
            continue
        image = Image.open(path).convert("RGB")
        image.thumbnail((256, 256), Image.Resampling.LANCZOS)
        (val if path.stem in config.validation else train).append(np.asarray(image, np.float32) / 255.0)
    return train, val


def to_tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float()


def random_window(a: np.ndarray, rng: random.Random, side: int, min_area: float) -> np.ndarray:
    """A random window of (H, W, 3) ``a`` covering at least ``min_area`` of it, resized to ``side`` long side."""
    h, w = a.shape[:2]
    area = rng.uniform(min_area, 1.0)
    ch, cw = max(16, round(h * math.sqrt(area))), max(16, round(w * math.sqrt(area)))
    y, x = rng.randrange(h - ch + 1), rng.randrange(w - cw + 1)
    window = Image.fromarray((a[y : y + ch, x : x + cw] * 255).astype(np.uint8))
    window.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = np.asarray(window, np.float32) / 255.0
    return out[:, ::-1] if rng.random() < 0.5 else out


class LookSampler:
    """Draws looks and renders (samples, inputs, targets) for them."""

    def __init__(self, pipe: PersonalStylePipeline, photos: list[np.ndarray], config: EncoderConfig, seed: int):
        self.pipe, self.photos, self.config = pipe, photos, config
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.bank_names = sorted(pipe.styles)
        self.codes = torch.stack([pipe.styles[n].code for n in self.bank_names])
        zero = torch.zeros(pipe.generator.norm_params)
        self.deltas = torch.stack(
            [pipe.styles[n].norm_delta if pipe.styles[n].norm_delta is not None else zero for n in self.bank_names]
        )
        self.procedural = list(looks.LOOKS.values())

    @torch.no_grad()
    def render_bank(self, images: list[np.ndarray], weights: torch.Tensor) -> list[np.ndarray]:
        code, delta = weights @ self.codes, weights @ self.deltas
        out = []
        for a in images:
            y = self.pipe.generator(to_tensor(a)[None], code[None], delta[None])
            out.append(y[0].permute(1, 2, 0).numpy())
        return out

    def draw(self) -> dict[str, object]:
        """One look: ``samples`` (list of (3, h, w)), ``inputs`` and ``targets`` (T, 3, crop, crop), ``kind``."""
        cfg, rng = self.config, self.rng
        k = rng.randint(1, min(cfg.max_samples, len(self.photos) - cfg.targets_per_look))
        chosen = rng.sample(range(len(self.photos)), k + cfg.targets_per_look)
        samples = [random_window(self.photos[i], rng, STAT_SIDE, 0.4) for i in chosen[:k]]
        inputs = [self.target_window(self.photos[i]) for i in chosen[k:]]
        kind = rng.random()
        if kind < cfg.grade_share:
            grade = looks.random_grade(self.np_rng)
            samples, targets, name = [grade(s) for s in samples], [grade(x) for x in inputs], "grade"
        elif kind < cfg.grade_share + cfg.bank_share:
            picks = rng.sample(range(len(self.bank_names)), rng.randint(1, 2))
            weights = torch.zeros(len(self.bank_names))
            weights[picks] = torch.from_numpy(self.np_rng.dirichlet(np.ones(len(picks)))).float()
            samples, targets = self.render_bank(samples, weights), self.render_bank(inputs, weights)
            name = "bank"
            if rng.random() < cfg.grade_after_bank:
                grade = looks.random_grade(self.np_rng)
                samples, targets, name = [grade(s) for s in samples], [grade(t) for t in targets], "bank+grade"
        else:
            look = rng.choice(self.procedural)
            fn = lambda a: np.asarray(look(Image.fromarray((a * 255 + 0.5).astype(np.uint8))), np.float32) / 255  # noqa: E731
            samples, targets, name = [fn(s) for s in samples], [fn(x) for x in inputs], look.__name__
        return {
            "samples": [to_tensor(s) for s in samples],
            "inputs": torch.stack([to_tensor(x) for x in inputs]),
            "targets": torch.stack([to_tensor(t) for t in targets]),
            "kind": name,
        }

    def target_window(self, a: np.ndarray) -> np.ndarray:
        side = self.config.crop
        window = random_window(a, self.rng, round(side / self.rng.uniform(0.55, 1.0)), 0.5)
        h, w = window.shape[:2]
        if min(h, w) < side:
            window = (
                np.asarray(
                    Image.fromarray((window * 255).astype(np.uint8)).resize((max(side, w), max(side, h))), np.float32
                )
                / 255.0
            )
            h, w = window.shape[:2]
        y, x = self.rng.randrange(h - side + 1), self.rng.randrange(w - side + 1)
        return window[y : y + side, x : x + side]


def predict(encoder: StyleEncoder, looks_batch: list[dict], loss_net) -> tuple[torch.Tensor, torch.Tensor]:
    """The encoder's (mix logits (B, n_bank), LUTs (B, 3, n, n, n)) for each look's samples."""
    stats = torch.stack([sample_statistics(look["samples"], loss_net) for look in looks_batch])
    return encoder(stats)


def render(
    pipe: PersonalStylePipeline, sampler: LookSampler, mix_logits: torch.Tensor, lut: torch.Tensor, inputs: torch.Tensor
) -> torch.Tensor:
    """LUT(G(inputs | softmax-mixed code)) for one look: inputs (T, 3, S, S) -> (T, 3, S, S)."""
    weights = torch.softmax(mix_logits, 0)
    code, delta = weights @ sampler.codes, weights @ sampler.deltas
    return apply_lut(pipe.generator(inputs, code[None], delta[None]), lut)


def step_loss(pipe, encoder, sampler, batch, config) -> tuple[torch.Tensor, dict[str, float]]:
    mix_logits, luts = predict(encoder, batch, pipe.loss_net)
    total, parts = 0.0, {}
    for look, logits, lut in zip(batch, mix_logits, luts, strict=True):
        loss = paired_loss(render(pipe, sampler, logits, lut, look["inputs"]), look["targets"], config.grad_weight)
        total = total + loss / len(batch)
        parts.setdefault(look["kind"], []).append(float(loss.detach()))
    total = total + config.lut_smooth_weight * lut_smoothness(luts)
    return total, {k: sum(v) / len(v) for k, v in parts.items()}


@torch.no_grad()
def validate(pipe, encoder, sampler, looks_fixed, config) -> dict[str, float]:
    encoder.eval()
    ours = unchanged = 0.0
    for look in looks_fixed:
        logits, lut = predict(encoder, [look], pipe.loss_net)
        out = render(pipe, sampler, logits[0], lut[0], look["inputs"])
        ours += float(paired_loss(out, look["targets"], config.grad_weight))
        unchanged += float(paired_loss(look["inputs"], look["targets"], config.grad_weight))
    encoder.train()
    return {"validation": ours / len(looks_fixed), "photo": unchanged / len(looks_fixed)}


@torch.no_grad()
def fit_normalisation(encoder: StyleEncoder, sampler: LookSampler, loss_net, count: int = 96) -> None:
    stats = torch.stack([sample_statistics(sampler.draw()["samples"], loss_net) for _ in range(count)])
    encoder.stat_mean.copy_(stats.mean(0))
    encoder.stat_std.copy_(stats.std(0).clamp_min(1e-3))


def grow_bank(state: dict, old_bank: list[str], bank: list[str]) -> dict:
    """An encoder state for ``bank`` from one trained for ``old_bank``: the mixture head's rows follow their styles
    by name; a style new to the bank starts with zero weights and a bias below every trained one (unused at first)."""
    if list(old_bank) == list(bank):
        return state
    weight, bias = state["mix_head.weight"], state["mix_head.bias"]
    grown_w = torch.zeros(len(bank), weight.shape[1])
    grown_b = torch.full((len(bank),), float(bias.min()) - 2.0)
    for row, name in enumerate(bank):
        if name in old_bank:
            grown_w[row], grown_b[row] = weight[old_bank.index(name)], bias[old_bank.index(name)]
    return {**state, "mix_head.weight": grown_w, "mix_head.bias": grown_b}


def save_checkpoint(out: Path, encoder, optimizer, step: int, history: list, sampler: LookSampler) -> None:
    state = {
        "bank_names": list(sampler.bank_names),
        "encoder": encoder.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "history": history,
        "rng": sampler.rng.getstate(),
        "np_rng": sampler.np_rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
    }
    save_run_state(out, state, history)
    encoder.save_pretrained(out / EXPORT)


def train_encoder(config: EncoderConfig, out: Path, threads: int | None = None) -> StyleEncoder:
    """Train (or resume from ``out/checkpoint.pt``) and export ``out/style_encoder``; returns the encoder."""
    start_run(out, config, threads)
    torch.manual_seed(config.seed)
    pipe = PersonalStylePipeline.from_pretrained(config.weights)
    pipe.generator.requires_grad_(False).eval()
    train_photos, val_photos = load_photos(config)
    if min(len(train_photos), len(val_photos)) <= config.targets_per_look:
        raise ValueError(
            f"{config.content}: {len(train_photos)} training and {len(val_photos)} validation photos; each needs "
            f"more than targets_per_look={config.targets_per_look}"
        )
    sampler = LookSampler(pipe, train_photos, config, config.seed)
    val_sampler = LookSampler(pipe, val_photos, config, config.seed + 1000)
    val_looks = [val_sampler.draw() for _ in range(config.validation_looks)]
    encoder = StyleEncoder(bank_names=tuple(sampler.bank_names))
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    start, history = 0, []
    if (out / CHECKPOINT).is_file():
        state = torch.load(out / CHECKPOINT, weights_only=False)
        old_bank = state.get("bank_names", sampler.bank_names)
        encoder.load_state_dict(grow_bank(state["encoder"], old_bank, sampler.bank_names))
        if old_bank == sampler.bank_names:
            optimizer.load_state_dict(state["optimizer"])
        start, history = state["step"], state["history"]
        sampler.rng.setstate(state["rng"])
        sampler.np_rng.bit_generator.state = state["np_rng"]
        torch.set_rng_state(state["torch_rng"])
    else:
        fit_normalisation(encoder, sampler, pipe.loss_net, config.normalisation_looks)
        history.append({"step": 0, **validate(pipe, encoder, sampler, val_looks, config)})
    started = time.perf_counter()
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, desc="encoder")
    for step in bar:
        lr = config.lr * 0.5 * (1 + math.cos(math.pi * step / config.steps))
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = [sampler.draw() for _ in range(config.looks_per_step)]
        loss, parts = step_loss(pipe, encoder, sampler, batch, config)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"step {step + 1}: non-finite loss {parts}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(encoder.parameters(), 1.0)
        optimizer.step()
        bar.set_postfix(loss=f"{float(loss):.4f}")
        if (step + 1) % config.validate_every == 0 or step + 1 == config.steps:
            record = {
                "step": step + 1,
                "loss": round(float(loss), 5),
                **validate(pipe, encoder, sampler, val_looks, config),
            }
            record["seconds"] = round(time.perf_counter() - started, 1)
            history.append(record)
            bar.write(json.dumps(record))
            save_checkpoint(out, encoder, optimizer, step + 1, history, sampler)
    return encoder

"""Pretraining: the conditional generator, one learned code per style in the bank, and the discriminator.

    python -m pipeline.train --data data --run runs/base --steps 4000            # CPU, resumes from runs/base
    accelerate launch -m pipeline.train --data data --run runs/gpu --steps 20000 --crop 256 --batch-size 16

Losses per step (see ``pipeline/losses.py``): relative Gram loss of G(x|s) against style s, content loss
(relu2_2) against x, colour moments relative to x, a colour-map residual (low-frequency change must be a global
colour curve of x: no blobs; optionally also over its worst cells: no spots), optionally a smear loss (no dark
features stretched into bands) and an anisotropy loss (no scan-line streaks), TV, hinge adversarial loss from the
conditional discriminator on differentiably augmented crops (after ``adv_start``), cycle loss G(G(x|s)|photo) ~ x
and identity loss G(x|photo) ~ x.
A texture stage (``--texture-styles a,b --init RUN``, on a generator with a pattern branch, grown with
``--generator '{"pattern_periods": [...]}'``) trains only that branch and the named styles' codes, and holds
every other style to RUN's output (L1, ``--keep-weight``), so the rest of the bank does not move; with
``--stage-params all`` the whole generator trains for the named styles under the same hold. ``--paired-weight``
adds, for styles whose exemplars were made from the content photos by a known function (the procedural looks of
``scripts/fetch_data.py``, matched by file name), an L1 loss to that exemplar on aligned crops.
Checkpoints (safetensors + optimiser state) go to ``--run`` every ``--checkpoint-minutes``; a rerun resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

import torch
from accelerate import Accelerator
from safetensors.torch import load_file, save_file

from .augment import diff_augment
from .discriminator import Discriminator
from .generator import Generator
from .learn_objective import CONTENT_TAP, STYLE_TAPS
from .loss_net import LossNet
from .losses import (
    anisotropy_loss,
    color_loss,
    color_map_residual,
    color_moments,
    content_loss,
    cycle_loss,
    d_hinge_loss,
    g_hinge_loss,
    normalized_style_loss,
    relative_color_target,
    smear_loss,
    tv_loss,
)
from .pipeline import PHOTO
from .train_config import STAGE_PARAMS, TrainConfig
from .train_data import load_folder, load_pairs, random_crops, style_color_moments, style_targets


def style_weights(ratios: torch.Tensor, focus: float) -> list[float]:
    """Sampling weights (S-1,) for the non-photo styles from their running output/input Gram-loss ratios.

    A style whose outputs are still as far from it as the inputs (ratio near or above 1) is drawn more often;
    ratios are clamped to [0.25, 4] so no style is starved. ``focus`` 0 gives uniform sampling.
    """
    return ratios[1:].clamp(0.25, 4.0).pow(focus).tolist()


def texture_indices(
    texture_styles: str, names: list[str], generator: Generator, stage_params: str = "branch"
) -> list[int]:
    """Bank indices of the comma-separated ``texture_styles`` (``TrainConfig.texture_styles``); [] when empty."""
    if stage_params not in STAGE_PARAMS:
        raise ValueError(f"--stage-params must be one of {sorted(STAGE_PARAMS)}, not {stage_params!r}")
    wanted = [n.strip() for n in texture_styles.split(",") if n.strip()]
    if not wanted:
        return []
    unknown = [n for n in wanted if n not in names or n == PHOTO]
    if unknown:
        raise ValueError(f"--texture-styles: {unknown} not among the data's styles {names[1:]}")
    has = {"pattern": bool(generator.pattern_periods), "color": generator.color_curves}
    needed = {"branch": has["pattern"] or has["color"], "pattern": has["pattern"], "color": has["color"], "all": True}
    if not needed[stage_params]:
        raise ValueError(
            f"--texture-styles with --stage-params {stage_params} trains the generator's pattern or colour branch, which "
            """this generator has none of: grow one with --generator '{"pattern_periods": [4.8, 8, 16, 32]}' (or """
            """'{"color_curves": true}'), or train the whole generator for those styles with --stage-params all"""
        )
    return [names.index(n) for n in wanted]


def held_projector(held_codes: torch.Tensor) -> torch.Tensor:
    """(N, D) codes of the held styles -> (D, D) projector onto the code space orthogonal to them.

    A branch weight W (out, D) maps a code c to W c. Keeping every update on the right of this projector,
    W <- W0 + (W - W0) P, leaves W c unchanged for every held code, exactly: the branches cannot leak into the
    held styles however Adam moves them."""
    span = torch.linalg.pinv(held_codes) @ held_codes  # (D, D) projector onto the held codes' span
    return torch.eye(held_codes.shape[1], device=held_codes.device) - span


def save_checkpoint(
    cfg: TrainConfig,
    step: int,
    models: dict,
    optimizers: dict,
    names: list[str],
    log: list,
    elapsed_s: float,
    ratios: torch.Tensor | None = None,
) -> None:
    """Write the run folder atomically enough for resume: models first, then the state file that names the step."""
    run = cfg.run
    for name, model in models.items():
        if name == "codes":
            save_file({"codes": model.detach().cpu().contiguous()}, str(run / "codes.safetensors.tmp"))
            os.replace(run / "codes.safetensors.tmp", run / "codes.safetensors")
        else:
            model.save_pretrained(run / name)
    torch.save({k: o.state_dict() for k, o in optimizers.items()}, run / "optim.pt.tmp")
    os.replace(run / "optim.pt.tmp", run / "optim.pt")
    state = {
        "step": step,
        "elapsed_s": round(elapsed_s, 1),
        "styles": names,
        "config": json.loads(json.dumps(asdict(cfg), default=str)),
        "log": log,
    }
    if ratios is not None:
        state["ratios"] = [round(r, 5) for r in ratios.tolist()]
    (run / "state.json.tmp").write_text(json.dumps(state, indent=1))
    os.replace(run / "state.json.tmp", run / "state.json")


def train(cfg: TrainConfig) -> Path:
    accelerator = Accelerator()
    device = accelerator.device
    rng = random.Random(cfg.seed + accelerator.process_index)
    torch.manual_seed(cfg.seed)
    cfg.run.mkdir(parents=True, exist_ok=True)

    loss_net = LossNet.from_pretrained(cfg.loss_net, dtype=torch.float32).to(device)
    content = load_folder(cfg.data / "content", 640)
    style_dirs = sorted(p for p in (cfg.data / "styles").iterdir() if p.is_dir())
    names = [PHOTO] + [p.name for p in style_dirs]
    style_images = [load_folder(p, cfg.style_long_side) for p in style_dirs]
    targets = [style_targets(loss_net, [i.to(device) for i in imgs], cfg.transposed_targets) for imgs in style_images]
    target_stack = {t: torch.stack([tg[t] for tg in targets]) for t in STYLE_TAPS}  # (S, C, C)
    color_targets = torch.stack([style_color_moments(imgs) for imgs in style_images]).to(device)  # (S, 6)
    content_moments = style_color_moments(content).to(device)  # (6,): the photos' colour reference
    pairs = [load_pairs(cfg.data / "content", p, 640) for p in style_dirs] if cfg.paired_weight else []

    state_file = cfg.run / "state.json"
    resume = json.loads(state_file.read_text()) if state_file.exists() else None
    if resume and resume["styles"] != names:
        raise ValueError(f"{state_file}: styles {resume['styles']} differ from the data's {names}")
    source = cfg.run if resume else Path(cfg.init) if cfg.init else None
    if source is not None:
        if not resume:
            init_state = json.loads((source / "state.json").read_text())
            if init_state["styles"] != names:
                raise ValueError(f"{source}: styles {init_state['styles']} differ from the data's {names}")
        generator = Generator.from_pretrained(source / "generator")
        if cfg.generator and not resume:  # e.g. --generator '{"pattern_periods": [4.8, 8, 16, 32]}' on --init
            generator = generator.grow(**cfg.generator)
        discriminator = Discriminator.from_pretrained(source / "discriminator")
        codes = torch.nn.Parameter(load_file(str(source / "codes.safetensors"))["codes"])
    else:
        generator = Generator(code_dim=cfg.code_dim, **cfg.generator)
        discriminator = Discriminator(code_dim=cfg.code_dim)
        codes = torch.nn.Parameter(torch.randn(len(names), cfg.code_dim) * 0.5)
    texture = texture_indices(cfg.texture_styles, names, generator, cfg.stage_params)
    fast = ("style_mlp.", "pattern_", "color_")  # the style MLP and the branches learn at mlp_lr
    branch_names, branch_weights, projector = [], [], None
    if texture:  # the texture styles' codes and the chosen branches (or the whole generator) train; the rest is held
        for n, p in generator.named_parameters():
            p.requires_grad_(n.startswith(STAGE_PARAMS[cfg.stage_params]))
        mask = torch.zeros(len(names), 1)
        mask[texture] = 1.0
        codes.register_hook(lambda grad: grad * mask.to(grad.device))
        branch_names = [
            name
            for name in ("pattern_amp", "color_amp")
            if (module := getattr(generator, name, None)) is not None and module.weight.requires_grad
        ]
        branch_weights = [getattr(generator, name).weight for name in branch_names]
        projector = held_projector(codes.detach()[[i for i in range(len(names)) if i not in texture]])
    mlp_params = [p for n, p in generator.named_parameters() if n.startswith(fast) and p.requires_grad]
    shared = [p for n, p in generator.named_parameters() if not n.startswith(fast) and p.requires_grad]
    groups = [{"params": mlp_params, "lr": cfg.mlp_lr}, {"params": [codes], "lr": cfg.code_lr}]
    g_opt = torch.optim.Adam(([{"params": shared}] if shared else []) + groups, lr=cfg.lr)
    teacher = None
    if texture:  # the other styles are held to the output of the --init weights (pattern branch included, if any)
        if not cfg.init:
            raise ValueError("--texture-styles needs --init: the other styles are held to those weights' output")
        teacher = Generator.from_pretrained(Path(cfg.init) / "generator").requires_grad_(False).eval().to(device)
    branch_start = [  # the --init weights' branch maps (zero where the branch was just grown), for branch_decay
        (getattr(teacher, name).weight if getattr(teacher, name, None) is not None else torch.zeros_like(weight))
        .detach()
        .clone()
        for name, weight in zip(branch_names, branch_weights)
    ]
    others = [i for i in range(len(names)) if i not in texture]
    d_opt = torch.optim.Adam(discriminator.parameters(), lr=cfg.d_lr, betas=(0.0, 0.99))
    if resume:
        optim_state = torch.load(cfg.run / "optim.pt", weights_only=True)
        g_opt.load_state_dict(optim_state["g"])
        d_opt.load_state_dict(optim_state["d"])
    start = resume["step"] if resume else 0
    elapsed_before = resume.get("elapsed_s", 0.0) if resume else 0.0
    log = resume["log"] if resume else []
    ratios = torch.tensor(resume["ratios"]) if resume and "ratios" in resume else torch.ones(len(names))
    rng.seed(cfg.seed * 1_000_003 + start)
    torch.manual_seed(cfg.seed * 1_000_003 + start)
    generator, discriminator, g_opt, d_opt = accelerator.prepare(generator, discriminator, g_opt, d_opt)
    codes_dev = codes.to(device) if codes.device != device else codes

    def progress(step: int) -> float:
        elapsed = elapsed_before + time.time() - t0
        return max(step / cfg.steps, elapsed / (cfg.minutes * 60) if cfg.minutes else 0.0)

    def lr_at(step: int) -> float:  # linear warm-up, cosine decay to 10 %
        warm = min(1.0, (step + 1) / 100)
        return warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress(step)))))

    artifact_losses = [  # (name, weight, loss(output, input) -> (B,)), only the weighted ones
        (name, weight, term)
        for name, weight, term in (
            ("color_peak", cfg.color_map_peak_weight, partial(color_map_residual, top=cfg.color_map_top)),
            ("anisotropy", cfg.anisotropy_weight, anisotropy_loss),
            ("smear", cfg.smear_weight, smear_loss),
        )
        if weight
    ]
    last_ckpt, t0, running = time.time(), time.time(), {}
    for step in range(start, cfg.steps):
        for opt, base in ((g_opt, None), (d_opt, cfg.d_lr)):
            for group in opt.param_groups:
                group.setdefault("base_lr", group["lr"] if base is None else base)
                group["lr"] = group["base_lr"] * lr_at(step)
        b = cfg.batch_size
        x = random_crops(content, b, cfg.crop, (1.25, 2.5), rng).to(device)
        if texture:
            s = torch.tensor(rng.choices(texture, k=b), device=device)
        else:
            s = torch.tensor(
                rng.choices(range(1, len(names)), weights=style_weights(ratios, cfg.focus), k=b), device=device
            )
        code = codes_dev[s]
        y = generator(x, code)
        feats = loss_net(y, STYLE_TAPS)
        batch_targets = {t: target_stack[t][s - 1] for t in STYLE_TAPS}
        with torch.no_grad():
            x_feats = loss_net(x, STYLE_TAPS if cfg.focus else (CONTENT_TAP,))
            x_content = x_feats[CONTENT_TAP]
        l_style_each = normalized_style_loss(feats, batch_targets)  # (B,)
        l_style = l_style_each.mean()
        if cfg.focus:
            with torch.no_grad():
                r = (l_style_each / normalized_style_loss(x_feats, batch_targets).clamp_min(1e-6)).cpu()
            for i, si in enumerate(s.tolist()):
                ratios[si] = 0.95 * ratios[si] + 0.05 * r[i].item()
        l_content = (content_loss(feats[CONTENT_TAP], x_content) / x_content.pow(2).mean((1, 2, 3))).mean()
        l_tv = tv_loss(y)
        l_color = color_loss(y, relative_color_target(color_moments(x), color_targets[s - 1], content_moments)).mean()
        photo_code = codes_dev[:1].expand(b, -1)
        l_identity = cycle_loss(generator(x, photo_code), x)
        loss = cfg.style_weight * l_style + cfg.content_weight * l_content + cfg.tv_weight * l_tv
        loss = loss + cfg.color_weight * l_color
        l_map = color_map_residual(y, x).mean()
        loss = loss + cfg.color_map_weight * l_map
        loss = loss + cfg.identity_weight * l_identity
        losses = {
            "style": l_style,
            "content": l_content,
            "color": l_color,
            "color_map": l_map,
            "tv": l_tv,
            "identity": l_identity,
        }
        for name, weight, term in artifact_losses:
            losses[name] = term(y, x).mean()
            loss = loss + weight * losses[name]
        if cfg.cycle_weight and step % cfg.cycle_every == 0:
            losses["cycle"] = cycle_loss(generator(y, photo_code), x)
            loss = loss + cfg.cycle_weight * losses["cycle"]
        paired = [(i, si) for i, si in enumerate(s.tolist()) if pairs and pairs[si - 1]]
        if paired:  # styles made by a known function from content photos: match it on aligned crops
            rows, kinds = zip(*paired)
            crops = torch.stack([random_crops(pairs[si - 1], 1, cfg.crop, (1.25, 2.5), rng)[0] for si in kinds]).to(
                device
            )
            losses["paired"] = (generator(crops[:, :3], code[list(rows)]) - crops[:, 3:]).abs().mean()
            loss = loss + cfg.paired_weight * losses["paired"]
        if teacher is not None:  # the other styles keep their output
            kept = torch.tensor([0, *rng.choices(others[1:] or others, k=b - 1)], device=device)  # photo always
            with torch.no_grad():
                reference = teacher(x, codes_dev[kept])
            losses["keep"] = (generator(x, codes_dev[kept]) - reference).abs().mean()
            loss = loss + cfg.keep_weight * losses["keep"]
        use_adv = cfg.adv_weight > 0 and step >= cfg.adv_start
        if use_adv:
            discriminator.requires_grad_(False)
            losses["g_adv"] = g_hinge_loss(discriminator(diff_augment(y), code))
            loss = loss + cfg.adv_weight * losses["g_adv"]
        if cfg.branch_decay and branch_weights:
            losses["branch"] = sum((w - w0.to(w.device)).pow(2).sum() for w, w0 in zip(branch_weights, branch_start))
            loss = loss + cfg.branch_decay * losses["branch"]
        g_opt.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        before = [w.detach().clone() for w in branch_weights]
        g_opt.step()
        with torch.no_grad():  # the branches' weights move only where no held style's code looks
            for weight, old in zip(branch_weights, before):
                weight.copy_(old + (weight - old) @ projector.to(weight.device))
        if use_adv:
            discriminator.requires_grad_(True)
            real = torch.stack([random_crops(style_images[i - 1], 1, cfg.crop, (1.0, 1.6), rng)[0] for i in s.tolist()])
            d_loss = d_hinge_loss(
                discriminator(diff_augment(real.to(device)), code.detach()),
                discriminator(diff_augment(y.detach()), code.detach()),
            )
            d_opt.zero_grad(set_to_none=True)
            accelerator.backward(d_loss)
            d_opt.step()
            losses["d"] = d_loss
        for k, v in losses.items():
            running[k] = 0.9 * running.get(k, v.item()) + 0.1 * v.item()
        if (step + 1) % 25 == 0 and accelerator.is_main_process:
            rate = (time.time() - t0) / (step + 1 - start)
            entry = {"step": step + 1, **{k: round(v, 5) for k, v in running.items()}, "s_per_step": round(rate, 3)}
            if cfg.focus and (step + 1) % 250 == 0:
                entry["ratios"] = {n: round(r, 3) for n, r in zip(names[1:], ratios[1:].tolist())}
            log.append(entry)
            print(json.dumps(entry), flush=True)
        done = step + 1 == cfg.steps or progress(step + 1) >= 1.0
        if accelerator.is_main_process and (done or time.time() - last_ckpt > cfg.checkpoint_minutes * 60):
            models = {
                "generator": accelerator.unwrap_model(generator),
                "discriminator": accelerator.unwrap_model(discriminator),
                "codes": codes_dev,
            }
            save_checkpoint(
                cfg, step + 1, models, {"g": g_opt, "d": d_opt}, names, log, elapsed_before + time.time() - t0, ratios
            )
            last_ckpt = time.time()
        if done:
            break
    accelerator.wait_for_everyone()
    return cfg.run


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, value in asdict(defaults).items():
        if name == "generator":
            parser.add_argument("--generator", type=json.loads, default={}, help="JSON Generator config overrides")
            continue
        if isinstance(value, bool):
            parser.add_argument("--" + name.replace("_", "-"), action=argparse.BooleanOptionalAction, default=value)
            continue
        kind = type(value) if not isinstance(value, Path) else Path
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=value)
    return TrainConfig(**vars(parser.parse_args(argv)))


if __name__ == "__main__":
    train(parse_args())

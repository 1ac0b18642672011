"""The Gram-stage pretraining recipe (``pipeline/train.py``): every option, with the value the stages start from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

STAGE_PARAMS = {"branch": ("pattern_", "color_"), "pattern": ("pattern_",), "color": ("color_",), "all": ("",)}


@dataclass
class TrainConfig:
    data: Path = Path("data")
    run: Path = Path("runs/base")
    loss_net: Path = Path("weights/loss_net")
    steps: int = 4000
    minutes: float = 0.0  # wall-clock budget (0 = none): the schedule ends at whichever of steps/minutes comes first
    batch_size: int = 4
    crop: int = 128  # training crop side; content photos are rescaled to a short side in [crop*1.25, crop*2.5]
    style_long_side: int = 384  # style images are seen at this size (sets the texture scale)
    lr: float = 1e-3
    code_lr: float = 2e-2
    mlp_lr: float = 5e-3  # the code -> scale/shift MLP learns faster than the shared convolutions
    d_lr: float = 4e-4
    code_dim: int = 64
    style_weight: float = (
        0.1  # on the scale-invariant Gram loss (x100, about 30-80 for a photo), summed over STYLE_TAPS
    )
    content_weight: float = 6.0  # on the relative content loss (1-2 lost faces in a first run)
    tv_weight: float = 0.5
    color_weight: float = 20.0  # per-channel mean/std vs targets from the input (see losses.relative_color_target)
    color_map_weight: float = (
        150.0  # low-frequency change that is not a global colour curve (losses.color_map_residual)
    )
    color_map_peak_weight: float = 0.0  # the same residual over the worst color_map_top of cells: small saturated spots
    color_map_top: float = 0.02
    anisotropy_weight: float = 0.0  # directional bias of the change (losses.anisotropy_loss): scan-line streaks
    smear_weight: float = 0.0  # |row - column autocorrelation| of the fine change (losses.smear_loss): smears
    transposed_targets: bool = False  # Gram targets also from the style images with axes swapped (no direction)
    adv_weight: float = 0.05
    adv_start: int = 600
    cycle_weight: float = 1.0
    identity_weight: float = 4.0
    cycle_every: int = 2
    checkpoint_minutes: float = 5.0
    seed: int = 0
    generator: dict = field(default_factory=dict)  # Generator config overrides
    init: str = ""  # start a new run (fresh optimiser and schedule) from another run's weights
    focus: float = (
        0.0  # sample style s with weight r_s ** focus, r_s = running Gram loss of output / input (0 = uniform)
    )
    # texture stage: comma-separated styles that learn to use the generator's pattern/colour branches; only those and
    # their codes train, and every other style (photo in every batch) is held to the --init weights' output by L1
    texture_styles: str = ""
    keep_weight: float = (
        300.0  # on the L1 to the --init output (the shipped texture stage's weight; see the model card)
    )
    # what trains besides the named styles' codes in that stage (STAGE_PARAMS): "branch" (the pattern and colour
    # branches), "pattern" or "color" (one of them) or "all" (the whole generator; the other styles are still held to
    # the --init output)
    stage_params: str = "branch"
    # L1 of G(x|s) to the style's exemplar made from the same photo, on aligned crops, for styles whose exemplars are
    # f(content photo) (same file name in content/ and the style's folder: the procedural looks); 0 = off
    paired_weight: float = 0.0
    # L2 pull of the branches' code maps (pattern_amp/color_amp) toward the --init weights' in a texture stage: a
    # stage then adds the smallest change that renders its styles, instead of a large gain along a direction no bank
    # code uses, which makes few-shot learning's code steps explode there (see the model card's seventh stage)
    branch_decay: float = 0.0

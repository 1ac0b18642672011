"""Personal Style Studio: learn a visual style from a few pictures and apply it to selfies."""

from .discriminator import Discriminator
from .generator import Generator
from .images import ImageError, load_image
from .loss_net import LossNet
from .pipeline import PersonalStyleOutput, PersonalStylePipeline
from .style import PersonalStyle, StyleError

__all__ = [
    "Discriminator",
    "Generator",
    "ImageError",
    "LossNet",
    "PersonalStyle",
    "PersonalStyleOutput",
    "PersonalStylePipeline",
    "StyleError",
    "load_image",
]

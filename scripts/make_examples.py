"""Write the sample portraits the app offers as ``gr.Examples`` to ``assets/examples/`` (JPEG, long side ≤ 512 px).

Both pictures are public domain and ship with packages already installed here (no download)::

    python -m scripts.make_examples            # -> assets/examples/astronaut.jpg, grace_hopper.jpg

Sources and licences are listed in ``assets/examples/SOURCES.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import skimage.data
from PIL import Image

LONG_SIDE = 512
QUALITY = 90


def sample_portraits() -> dict[str, Image.Image]:
    """name -> RGB portrait: scikit-image's astronaut (NASA) and matplotlib's Grace Hopper (US Navy)."""
    hopper_path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return {
        "astronaut": Image.fromarray(skimage.data.astronaut()),
        "grace_hopper": Image.open(hopper_path).convert("RGB"),
    }


def write_examples(folder: Path) -> list[Path]:
    """Save each portrait, shrunk so its long side is at most ``LONG_SIDE``, as ``folder/<name>.jpg``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, image in sample_portraits().items():
        image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
        path = folder / f"{name}.jpg"
        tmp = path.with_suffix(".jpg.tmp")
        image.save(tmp, format="JPEG", quality=QUALITY, optimize=True)
        tmp.replace(path)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "assets" / "examples")
    for path in write_examples(parser.parse_args().out):
        print(f"{path}  {Image.open(path).size[0]}x{Image.open(path).size[1]}  {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()

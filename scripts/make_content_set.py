"""Make the built-in content set ``weights/content/``: small public-domain photos that ``learn_style`` restyles
when the user gives no content images of their own.

    python -m scripts.make_content_set            # writes weights/content/*.jpg (long side 256)

Sources (all public domain or CC0, shipped with scikit-image and matplotlib; see weights/content/SOURCES.md):
astronaut, coffee, chelsea, rocket, motorcycle_left (scikit-image ``skimage/data``), grace_hopper (matplotlib
``sample_data``). Portraits come first: selfies are what the studio restyles most.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib
import skimage.data
from PIL import Image

SKIMAGE_DIR = Path(skimage.data.__file__).parent
MATPLOTLIB_DIR = Path(matplotlib.get_data_path()) / "sample_data"
SOURCES = {
    "astronaut": SKIMAGE_DIR / "astronaut.png",
    "grace_hopper": MATPLOTLIB_DIR / "grace_hopper.jpg",
    "coffee": SKIMAGE_DIR / "coffee.png",
    "chelsea": SKIMAGE_DIR / "chelsea.png",
    "rocket": SKIMAGE_DIR / "rocket.jpg",
    "motorcycle_left": SKIMAGE_DIR / "motorcycle_left.png",
}
LICENCES = {
    "astronaut": "Eileen Collins, NASA photograph; public domain (scikit-image `skimage/data/astronaut.png`).",
    "grace_hopper": "Grace Hopper, US Navy photograph; public domain (matplotlib `sample_data/grace_hopper.jpg`).",
    "coffee": "Coffee cup by Rachel Michetti, CC0 (scikit-image `skimage/data/coffee.png`).",
    "chelsea": "Chelsea the cat by Stéfan van der Walt, CC0 (scikit-image `skimage/data/chelsea.png`).",
    "rocket": "SpaceX Falcon 9 launch, public domain (scikit-image `skimage/data/rocket.jpg`).",
    "motorcycle_left": "Middlebury 2014 stereo dataset, 'Motorcycle' left view (Scharstein et al., GCPR 2014), "
    "as redistributed in scikit-image `skimage/data/motorcycle_left.png`; cite the paper when reusing it.",
}


def make_content_set(out: Path, long_side: int = 256) -> list[Path]:
    """Write one JPEG per source (long side ``long_side``) and ``SOURCES.md``; return the image paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, source in SOURCES.items():
        image = Image.open(source).convert("RGB")
        image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
        path = out / f"{name}.jpg"
        tmp = path.with_suffix(".tmp")
        image.save(tmp, "JPEG", quality=92)
        os.replace(tmp, path)
        written.append(path)
    lines = [
        "# Built-in content set",
        "",
        "Photos that `learn_style` restyles when no `content=` images are given (content, cycle and adversarial",
        f"losses). Made by `python -m scripts.make_content_set` (long side {long_side} px, JPEG quality 92).",
        "",
        "| file | source and licence |",
        "| --- | --- |",
        *[f"| {name}.jpg | {LICENCES[name]} |" for name in SOURCES],
        "",
    ]
    (out / "SOURCES.md").write_text("\n".join(lines))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "weights" / "content")
    parser.add_argument("--long-side", type=int, default=256)
    args = parser.parse_args()
    for path in make_content_set(args.out, args.long_side):
        print(path)


if __name__ == "__main__":
    main()

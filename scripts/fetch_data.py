"""Fetch the training photos on a fresh machine (the looks are rendered from them by ``training/``).

    python -m scripts.fetch_data data

Sources (all offline-installable; licences in ``weights/README.md``):
scikit-image's sample photos, matplotlib's Grace Hopper, and the photographic wallpapers of Debian's
``mate-backgrounds``, ``plasma-workspace-wallpapers`` and ``lomiri-wallpapers`` (fetched with ``apt-get download``).
Nothing here comes from styletransfer-lite, the peer we measure against.

Writes ``OUT/content/*.jpg`` (long side 640); re-running skips finished photos.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from PIL import Image

DEBIAN_PACKAGES = (
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
)
SKIMAGE_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png")
WALLPAPER_PHOTOS = (
    "backgrounds/mate/nature/Aqua.jpg",
    "backgrounds/mate/nature/Blinds.jpg",
    "backgrounds/mate/nature/Dune.jpg",
    "backgrounds/mate/nature/FreshFlower.jpg",
    "backgrounds/mate/nature/Garden.jpg",
    "backgrounds/mate/nature/GreenMeadow.jpg",
    "backgrounds/mate/nature/LadyBird.jpg",
    "backgrounds/mate/nature/RainDrops.jpg",
    "backgrounds/mate/nature/Storm.jpg",
    "backgrounds/mate/nature/TwoWings.jpg",
    "backgrounds/mate/nature/YellowFlower.jpg",
    "wallpapers/Autumn",
    "wallpapers/BytheWater",
    "wallpapers/ColdRipple",
    "wallpapers/ColorfulCups",
    "wallpapers/EveningGlow",
    "wallpapers/FallenLeaf",
    "wallpapers/Grey",
    "wallpapers/Kite",
    "wallpapers/OneStandsOut",
    "wallpapers/Path",
    "wallpapers/SafeLanding",
    "wallpapers/Shell",
    "wallpapers/summer_1am",
    # lomiri-wallpapers: photographs, CC BY 4.0 / CC BY-SA 3.0-4.0 / CC0 (per file in its debian/copyright)
    "backgrounds/Bridge_by_Sander_Klootwijk.jpg",
    "backgrounds/Dragonfly_by_Bolly.jpg",
    "backgrounds/Kleiber_by_Lukas_Baubkus.jpg",
    "backgrounds/Picture_0B_by_freespace.jpg",
    "backgrounds/Picture_1A_by_freespace.jpg",
    "backgrounds/Wine_by_Jakkub_Mede.jpg",
    "backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg",
    "backgrounds/free_by_Peter_Nerlich.jpg",
    "backgrounds/friends_by_Aitzol_Berasategi.jpg",
    "backgrounds/life_by_Aitzol_Berasategi.jpg",
    "backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg",
    "backgrounds/seeding_by_Clements_Engelhardt.jpg",
    "backgrounds/sunset_by_Aitzol_Berasategi.jpg",
)


def save_jpeg(image: Image.Image, path: Path, long_side: int) -> None:
    image = image.convert("RGB")
    image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    tmp = path.with_suffix(".tmp")
    image.save(tmp, "JPEG", quality=93)
    os.replace(tmp, path)


def unpack_debian(raw: Path) -> Path:
    """``apt-get download`` the wallpaper packages and unpack them under ``raw/root`` (no install, no root)."""
    root = raw / "root"
    if (root / "usr/share").is_dir():
        return root / "usr/share"
    raw.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *DEBIAN_PACKAGES], cwd=raw, check=True)
    for deb in sorted(raw.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root / "usr/share"


def resolve(share: Path, rel: str) -> Path:
    """A file path, or the largest image inside a plasma wallpaper folder."""
    path = share / rel
    if path.is_file():
        return path
    images = sorted((path / "contents/images").glob("*"), key=lambda p: p.stat().st_size)
    if not images:
        raise FileNotFoundError(f"no wallpaper image under {path}")
    return images[-1]


def content_photos(share: Path) -> list[tuple[str, Image.Image]]:
    import matplotlib
    import skimage.data

    skimage_dir = Path(skimage.data.__file__).parent
    photos = [(Path(name).stem, Image.open(skimage_dir / name)) for name in SKIMAGE_PHOTOS]
    photos.append(("grace_hopper", Image.open(Path(matplotlib.get_data_path()) / "sample_data/grace_hopper.jpg")))
    for rel in WALLPAPER_PHOTOS:
        path = resolve(share, rel)
        photos.append((Path(rel).stem if path.name == Path(rel).name else Path(rel).name, Image.open(path)))
    return photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--long-side", type=int, default=640)
    args = parser.parse_args()
    share = unpack_debian(args.out / "raw")
    content_dir = args.out / "content"
    content_dir.mkdir(parents=True, exist_ok=True)
    for name, image in content_photos(share):
        if not (content_dir / f"{name}.jpg").exists():
            save_jpeg(image, content_dir / f"{name}.jpg", args.long_side)
    print(f"content: {len(list(content_dir.glob('*.jpg')))} photos in {content_dir}")


if __name__ == "__main__":
    main()

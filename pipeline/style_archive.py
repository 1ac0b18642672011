"""Styles as one ``.zip`` file, to keep offline and upload again: written from a :class:`PersonalStyle`, read back
with every member checked before anything is extracted.

A style archive holds exactly the files of a style folder (``style.safetensors``, ``style.json``, optional
``preview_<n>.png`` and ``README.md``), at its root or inside one top-level folder. Anything else — other names,
paths that climb out (``..``, absolute paths), links, more than a few members, members or totals over the size
limits, compressed data that claims more than it holds — is refused with a clear error, and nothing is written
outside the folder the archive is extracted into.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from .model_card import CARD_NAME
from .style import PersonalStyle, StyleError
from .style_files import CONFIG_NAME, WEIGHTS_NAME

MAX_ARCHIVE_BYTES = 32 * 2**20  # the .zip file itself
MAX_MEMBER_BYTES = 16 * 2**20  # one file, uncompressed
MAX_TOTAL_BYTES = 48 * 2**20  # all files, uncompressed
MAX_MEMBERS = 12
ALLOWED = re.compile(
    rf"^({re.escape(WEIGHTS_NAME)}|{re.escape(CONFIG_NAME)}|{re.escape(CARD_NAME)}|preview_\d{{1,2}}\.png)$"
)


def write_style_archive(style: PersonalStyle, path: str | os.PathLike) -> Path:
    """Save ``style`` as a zip at ``path`` (atomically: a temporary sibling renamed into place) -> ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        folder = style.save_pretrained(Path(tmp) / "style")
        partial = Path(tmp) / "style.zip"
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for member in sorted(folder.iterdir()):
                archive.write(member, member.name)
        os.replace(partial, path)
    return path


def read_style_archive(path: str | os.PathLike, into: str | os.PathLike) -> PersonalStyle:
    """Check the zip at ``path`` member by member, extract it under ``into`` and load the style it holds.

    Raises :class:`~pipeline.style.StyleError` naming what is wrong; on any error nothing is left under ``into``."""
    path = Path(path)
    if not path.is_file():
        raise StyleError(f"{path.name}: no such file")
    if path.stat().st_size > MAX_ARCHIVE_BYTES:
        raise StyleError(f"{path.name}: the archive is over {MAX_ARCHIVE_BYTES // 2**20} MB; a style is far smaller")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise StyleError(f"{path.name}: not a readable .zip file ({exc})") from None
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(prefix="style-", dir=into))
    try:
        with archive:
            members = _checked_members(archive, path.name)
            for info, name in members:
                _extract(archive, info, target / name, path.name)
        try:
            return PersonalStyle.load_folder(target)
        except StyleError as exc:  # name the archive, not the server's folder
            raise StyleError(str(exc).replace(str(target), path.name)) from None
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _checked_members(archive: zipfile.ZipFile, label: str) -> list[tuple[zipfile.ZipInfo, str]]:
    """The archive's files as (info, plain file name), after checking names, kinds, counts and claimed sizes."""
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if len(infos) > MAX_MEMBERS:
        raise StyleError(f"{label}: {len(infos)} files; a style archive holds at most {MAX_MEMBERS}")
    parts = [PurePosixPath(info.filename.replace("\\", "/")) for info in infos]
    for info, part in zip(infos, parts, strict=True):
        if part.is_absolute() or ".." in part.parts or len(part.parts) > 2 or not part.parts:
            raise StyleError(f"{label}: refused the path {info.filename!r} (only files at the top, or in one folder)")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise StyleError(f"{label}: refused {info.filename!r}, a link")
        if not ALLOWED.match(part.name):
            raise StyleError(
                f"{label}: unexpected file {info.filename!r}; a style archive holds {WEIGHTS_NAME}, {CONFIG_NAME}, "
                f"{CARD_NAME} and preview_<n>.png only"
            )
        if info.file_size > MAX_MEMBER_BYTES:
            raise StyleError(f"{label}: {info.filename!r} claims {info.file_size} bytes; over the per-file limit")
    if len({p.parent for p in parts}) > 1:
        raise StyleError(f"{label}: files in more than one folder; put the style's files in one folder")
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise StyleError(f"{label}: the same file name twice")
    if sum(info.file_size for info in infos) > MAX_TOTAL_BYTES:
        raise StyleError(f"{label}: the files claim more than {MAX_TOTAL_BYTES // 2**20} MB in total")
    for required in (WEIGHTS_NAME, CONFIG_NAME):
        if required not in names:
            raise StyleError(f"{label}: no {required}; is this a style archive?")
    return list(zip(infos, names, strict=True))


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, label: str) -> None:
    """Copy one member to ``destination``, stopping at its claimed size (a member that inflates past it is refused)."""
    written = 0
    try:
        with archive.open(info) as source, open(destination, "wb") as sink:
            while chunk := source.read(1 << 16):
                written += len(chunk)
                if written > info.file_size:
                    raise StyleError(f"{label}: {info.filename!r} holds more data than it claims")
                sink.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise StyleError(f"{label}: {info.filename!r} is damaged ({exc})") from None

"""Each visitor's files: outputs and uploads per session, removed when the session ends or grows old."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from pipeline.images import MAX_PIXELS, ImageError, fit_long_side, load_image


class SessionFiles:
    """Each visitor's files: outputs under ``root/<random token>/`` and the uploads the visitor sent, removed by
    :meth:`close` when the session ends and by :meth:`sweep` once older than ``max_age`` seconds.

    The token (128 random bits) keeps one session's outputs unguessable to another; uploads shared by two
    sessions (the same bytes give the same server path) are removed when the last of them closes.
    """

    def __init__(self, root: str | os.PathLike, max_age: float = 3600.0) -> None:
        self.root = Path(root)
        self.max_age = max_age
        self._folders: dict[str, Path] = {}
        self._uploads: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def folder(self, session: str) -> Path:
        """The session's private folder (created on first use; older folders of ended sessions are swept)."""
        with self._lock:
            if session not in self._folders:
                self.root.mkdir(parents=True, exist_ok=True)
                folder = self.root / secrets.token_hex(16)
                folder.mkdir(mode=0o700)
                self._folders[session] = folder
                fresh = True
            else:
                fresh = False
            folder = self._folders[session]
        if fresh:
            self.sweep()
        return folder

    def save(self, session: str, image: Image.Image, stem: str = "result") -> str:
        """Write ``image`` as PNG into the session's folder, atomically (never a half-written file) -> its path."""
        folder = self.folder(session)
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".png", dir=folder)
        os.close(fd)
        try:
            image.save(tmp, "PNG")
            path = folder / f"{stem}-{secrets.token_hex(4)}.png"
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return str(path)

    def track_uploads(self, session: str, paths: Sequence[str]) -> None:
        """Remember that ``session`` sent these uploaded files (removed with the session)."""
        with self._lock:
            self._uploads.setdefault(session, set()).update(map(str, paths))

    def close(self, session: str) -> None:
        """Delete the session's folder and the uploads no other open session holds."""
        with self._lock:
            folder = self._folders.pop(session, None)
            uploads = self._uploads.pop(session, set())
            held = set().union(*self._uploads.values()) if self._uploads else set()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        for path in uploads - held:
            _remove_upload(Path(path))

    def sweep(self) -> None:
        """Remove session folders (and the sessions' records) not touched for ``max_age`` seconds."""
        cutoff = time.time() - self.max_age
        with self._lock:
            stale = [s for s, f in self._folders.items() if _mtime(f) < cutoff]
            for session in stale:
                self._folders.pop(session)
            known = set(self._folders.values())
        for folder in self.root.iterdir() if self.root.is_dir() else ():
            if folder not in known and folder.is_dir() and _mtime(folder) < cutoff:
                shutil.rmtree(folder, ignore_errors=True)

    def sessions(self) -> int:
        with self._lock:
            return len(self._folders.keys() | self._uploads.keys())


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _remove_upload(path: Path) -> None:
    """Delete an uploaded file and its folder when that is left empty (the server keeps one folder per upload)."""
    try:
        path.unlink()
        path.parent.rmdir()
    except OSError:
        pass


# --- inputs ----------------------------------------------------------------------------------------------------
def load_upload(path: str | Path, name: str | None = None, max_side: int | None = None) -> Image.Image:
    """An uploaded file -> RGB PIL image (shrunk to ``max_side`` if given); errors name the upload, not the
    server path."""
    label = name or Path(path).name
    try:
        image = load_image(str(path))
    except ImageError as exc:
        raise ImageError(str(exc).replace(str(path), label)) from None
    return fit_long_side(image, max_side) if max_side else image


def load_region(paths: Sequence[str | Path]) -> Image.Image | None:
    """Painted layers (RGBA files, e.g. from an image editor) -> one RGBA image of the strokes, or None when
    nothing is painted. Strokes mark where the style goes (``images.load_mask`` reads luminance x alpha)."""
    region = None
    for path in paths:
        try:
            with Image.open(path) as layer:
                if layer.width * layer.height > MAX_PIXELS:
                    raise ImageError(f"the painted region is {layer.width}x{layer.height}; too large")
                layer = layer.convert("RGBA")
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"could not read the painted region ({type(exc).__name__})") from None
        region = layer if region is None else Image.alpha_composite(region, layer.resize(region.size))
    if region is None or region.getchannel("A").getextrema()[1] == 0:
        return None
    return region

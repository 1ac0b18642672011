"""Hugging Face Hub access: load pipelines and styles by repo id, push learned styles with a model card.

Safetensors only (never pickle): downloads are limited to configs, ``*.safetensors`` and previews. The endpoint
(``HF_ENDPOINT``), the cache (``HF_HUB_CACHE``, else ``HF_HOME/hub``) and offline mode (``HF_HUB_OFFLINE``) are
read from the environment at each call, not frozen at import. Tokens come from the argument, then ``HF_TOKEN``
(the app passes its OAuth token explicitly); they travel only in the Authorization header and never appear in
logs, messages or model cards. Every Hub failure becomes a :class:`HubError` naming the repo and what to do.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    RepoUrl,
    constants,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from .model_card import BASE_REPO, CARD_NAME, LIBRARY_NAME
from .style_files import CONFIG_NAME, WEIGHTS_NAME

PIPELINE_PATTERNS = [
    "model_index.json",
    "*/config.json",
    "*/*.safetensors",
    "onnx/generator.onnx",  # optional ONNX Runtime export of the generator (pipeline/onnx_backend.py)
    "onnx/export.json",
    "styles/*/style.json",
    "styles/*/style.safetensors",
    "styles/*/preview_*.png",
]
STYLE_PATTERNS = [CONFIG_NAME, WEIGHTS_NAME, "preview_*.png"]

logger = logging.getLogger(__name__)


class HubError(Exception):
    """A Hub operation failed: the message names the repo and what to do about it (never the token)."""


def resolve_token(token: str | bool | None) -> str | bool | None:
    """The token to use: the argument, else ``$HF_TOKEN``, else None (then a ``hf auth login`` token, if any).

    ``False`` means anonymous: no token at all, not even the server's own (what a shared app must use for its
    visitors, so a Space's ``HF_TOKEN`` secret never opens the owner's private repos to strangers).
    """
    if token is False:
        return False
    return token or os.environ.get("HF_TOKEN") or None


def hub_endpoint() -> str:
    """``$HF_ENDPOINT`` now, else huggingface_hub's default (https://huggingface.co)."""
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def is_offline() -> bool:
    """``$HF_HUB_OFFLINE`` set now (1/true/yes/on), or offline mode as huggingface_hub read it at import."""
    return os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"} or constants.is_offline_mode()


def cache_dir() -> str:
    """``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else huggingface_hub's default cache folder."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return constants.HF_HUB_CACHE


# --- download ----------------------------------------------------------------------------------------------------
def download_pipeline(repo_id: str, revision: str | None = None, token: str | bool | None = None) -> Path:
    """Snapshot of a base pipeline repo (configs, safetensors, style bank) -> its local folder in the cache."""
    folder = _snapshot(repo_id, revision, token, PIPELINE_PATTERNS)
    if not (folder / "model_index.json").is_file():
        raise HubError(f"repo {repo_id!r} holds no pipeline (no model_index.json at its root)")
    return folder


def download_style(repo_id: str, revision: str | None = None, token: str | bool | None = None) -> Path:
    """Snapshot of a style repo (``style.safetensors``, ``style.json``, previews) -> its local folder in the cache."""
    folder = _snapshot(repo_id, revision, token, STYLE_PATTERNS)
    if not (folder / CONFIG_NAME).is_file():
        raise HubError(f"repo {repo_id!r} holds no style (no {CONFIG_NAME} at its root)")
    return folder


def download_file(repo_id: str, filename: str, revision: str | None = None, token: str | None = None) -> Path:
    """One file of a repo -> its local path in the cache."""
    token = resolve_token(token)
    with _hub_errors(repo_id, token, revision=revision, filename=filename):
        path = hf_hub_download(
            repo_id,
            filename,
            revision=revision,
            token=token,
            endpoint=hub_endpoint(),
            cache_dir=cache_dir(),
            local_files_only=is_offline(),
        )
    return Path(path)


def _snapshot(repo_id: str, revision: str | None, token: str | bool | None, patterns: list[str]) -> Path:
    token = resolve_token(token)
    with _hub_errors(repo_id, token, revision=revision):
        if not is_offline():
            _check_access(repo_id, revision, token)
        folder = snapshot_download(
            repo_id,
            revision=revision,
            token=token,
            allow_patterns=patterns,
            endpoint=hub_endpoint(),
            cache_dir=cache_dir(),
            local_files_only=is_offline(),
        )
    logger.info("loaded %s (revision %s) from %s", repo_id, revision or "main", folder)
    return Path(folder)


def _check_access(repo_id: str, revision: str | None, token: str | bool | None) -> None:
    """Ask the Hub whether this caller may read ``repo_id`` at ``revision``, raising its error if not.

    ``snapshot_download`` answers a 401/404 from the cache when it can, which in a shared app would hand one user's
    private style to another. A network failure is left to it: then the cached copy is the right answer.
    """
    try:
        HfApi(endpoint=hub_endpoint(), token=token, library_name=LIBRARY_NAME).repo_info(repo_id, revision=revision)
    except httpx2.TransportError:
        logger.info("cannot reach %s to check %s; a cached copy will do", hub_endpoint(), repo_id)


# --- upload ------------------------------------------------------------------------------------------------------
def push_style_folder(
    folder: Path, names: list[str], card: str, repo_id: str, token: str | None, private: bool, *, message: str
) -> str:
    """Upload the files ``names`` of a saved style folder and the model card ``card`` to ``repo_id`` -> the repo
    URL (``PersonalStyle.push_to_hub`` calls this). The repo is created if needed (``private`` applies then)."""
    operations = [CommitOperationAdd(name, str(Path(folder) / name)) for name in names]
    operations.append(CommitOperationAdd(CARD_NAME, card.encode()))
    with _repo_for_push(repo_id, token, private) as (api, url):
        api.create_commit(url.repo_id, operations, commit_message=message)
    logger.info("pushed %s to %s", message.removeprefix("Upload "), url)
    return str(url)


def push_pipeline(folder: Path, repo_id: str = BASE_REPO, token: str | None = None, private: bool = False) -> str:
    """Upload a ``save_pretrained`` pipeline folder (plus its README.md model card) as a base repo -> the repo URL."""
    folder = Path(folder)
    if not (folder / "model_index.json").is_file():
        raise FileNotFoundError(f"{folder}: no model_index.json; not a pipeline folder")
    with _repo_for_push(repo_id, token, private) as (api, url):
        api.upload_folder(
            repo_id=url.repo_id,
            folder_path=folder,
            allow_patterns=[*PIPELINE_PATTERNS, CARD_NAME],
            commit_message="Upload the base pipeline",
        )
    logger.info("pushed pipeline %s to %s", folder, url)
    return str(url)


@contextmanager
def _repo_for_push(repo_id: str, token: str | None, private: bool) -> Iterator[tuple[HfApi, RepoUrl]]:
    """Create ``repo_id`` if needed; yields the client and the repo URL (``.repo_id``); errors become HubErrors."""
    if is_offline():
        raise HubError(f"cannot push to repo {repo_id!r}: offline mode is on (HF_HUB_OFFLINE)")
    token = resolve_token(token)
    api = HfApi(endpoint=hub_endpoint(), token=token, library_name=LIBRARY_NAME)
    with _hub_errors(repo_id, token, pushing=True):
        yield api, api.create_repo(repo_id, private=private, exist_ok=True)


# --- errors ------------------------------------------------------------------------------------------------------
@contextmanager
def _hub_errors(
    repo_id: str, token: str | None, revision: str | None = None, filename: str | None = None, pushing: bool = False
) -> Iterator[None]:
    """Turn huggingface_hub and network failures into a :class:`HubError` with a clear message."""
    try:
        yield
    except Exception as exc:
        error = _hub_error(exc, repo_id, token, revision, filename, pushing)
        if error is None:
            raise
        raise error from exc


def _hub_error(
    exc: Exception, repo_id: str, token: str | None, revision: str | None, filename: str | None, pushing: bool
) -> HubError | None:
    """The HubError for ``exc``, judged by the first HTTP or network error in its chain; None if it is neither."""
    chain = [exc]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None and cause not in chain:
        chain.append(cause)
    repo, endpoint = f"repo {repo_id!r}", hub_endpoint()
    if isinstance(exc, HFValidationError):
        return HubError(f"{repo_id!r} is neither a local folder nor a valid Hub repo id ('user/name')")
    if is_offline() or any(isinstance(e, OfflineModeIsEnabled) for e in chain):
        return HubError(f"{repo} is not in the local cache and offline mode is on (HF_HUB_OFFLINE); go online once")
    cause = next((e for e in chain if isinstance(e, (HfHubHTTPError, httpx2.TransportError))), None)
    if isinstance(cause, HfHubHTTPError):
        return HubError(_http_message(cause, repo, token, revision, filename, pushing))
    if cause is not None or isinstance(exc, (LocalEntryNotFoundError, ConnectionError)):
        if pushing:
            return HubError(f"cannot reach the Hub at {endpoint} to push to {repo}; check the network")
        return HubError(f"cannot reach the Hub at {endpoint} and {repo} is not in the local cache; check the network")
    return None


def _http_message(
    error: HfHubHTTPError, repo: str, token: str | None, revision: str | None, filename: str | None, pushing: bool
) -> str:
    status = error.response.status_code
    if isinstance(error, RevisionNotFoundError):
        return f"revision {revision!r} not found in {repo}"
    if isinstance(error, GatedRepoError):
        return f"{repo} is gated: request access on its Hub page, then use a token of an account that has it"
    if isinstance(error, RepositoryNotFoundError):
        hint = "the token given has no access to it" if token else "no token was given (pass token= or set HF_TOKEN)"
        return f"{repo} not found on {hub_endpoint()}, or it is private and {hint}"
    if isinstance(error, RemoteEntryNotFoundError):
        return f"{repo} has no file {filename!r} at revision {revision or 'main'!r}"
    if status == 401 and token:
        return f"the Hub rejected the token for {repo} (401 Unauthorized); check it or make a new one"
    if status == 401:
        return f"{repo} needs a token (401 Unauthorized): pass token= or set HF_TOKEN"
    if status == 403:
        access = "write" if pushing else "read"
        return f"the token has no {access} access to {repo} (403 Forbidden): {_redact(error.server_message, token)}"
    return f"the Hub answered {status} for {repo}: {_redact(error.server_message, token)}"


def _redact(text: str | None, token: str | None) -> str:
    text = text or "no details"
    return text.replace(token, "***") if token else text

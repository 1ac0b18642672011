"""Hugging Face Hub access: download pipelines and styles by repo id (safetensors only)."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import hf_hub_download, snapshot_download

PIPELINE_PATTERNS = ["model_index.json", "*/config.json", "*/*.safetensors", "styles/*/style.json", "styles/*/style.safetensors"]
STYLE_PATTERNS = ["style.json", "style.safetensors", "preview_*.png"]


def download_pipeline(repo_id: str, revision: str | None = None, token: str | None = None) -> Path:
    """Snapshot of a base pipeline repo (configs and safetensors only) -> local folder."""
    return Path(snapshot_download(repo_id, revision=revision, token=token, allow_patterns=PIPELINE_PATTERNS))


def download_style(repo_id: str, revision: str | None = None, token: str | None = None) -> Path:
    """Snapshot of a style repo -> local folder."""
    return Path(snapshot_download(repo_id, revision=revision, token=token, allow_patterns=STYLE_PATTERNS))


def download_file(repo_id: str, filename: str, revision: str | None = None, token: str | None = None) -> Path:
    return Path(hf_hub_download(repo_id, filename, revision=revision, token=token))

"""The Share tab: download or upload a style file, load from and push to the Hugging Face Hub."""

from __future__ import annotations

import os
from types import SimpleNamespace

import gradio as gr

from .widgets import hub_load_row

ON_SPACES = bool(os.environ.get("SPACE_ID"))


def share_tab() -> SimpleNamespace:
    """A session style kept as a .zip (download, upload), pushed (sign in on Spaces, a token field elsewhere), or
    loaded by repo id."""
    gr.Markdown("Keep a style you learned (or loaded) in this session as a file, push it to the Hub, or load one.")
    style = gr.Dropdown([], label="Your style", elem_id="share-style")
    gr.Markdown("### Keep it as a file")
    with gr.Row():
        download = gr.Button("Download style (.zip)", scale=1)
        style_file = gr.File(label="Your style file", interactive=False, scale=2, elem_id="style-file")
    upload = gr.File(label="Upload a style (.zip)", file_types=[".zip"], elem_id="style-upload")
    upload_message = gr.Markdown(elem_id="upload-message")
    gr.Markdown("### Push it to the Hugging Face Hub")
    with gr.Row():
        repo_id = gr.Textbox(label="Repo id", placeholder="your-name/my-style", scale=3)
        private = gr.Checkbox(value=True, label="Private", scale=1)
    if ON_SPACES:
        gr.LoginButton()
    token = gr.Textbox(
        label="Hugging Face write token",
        type="password",
        placeholder="hf_…",
        visible=not ON_SPACES,
        info="Used for this push only: not stored, not logged, cleared afterwards.",
    )
    push = gr.Button("Push to the Hub", variant="primary")
    push_message = gr.Markdown()
    gr.Markdown("### Load a style from the Hub")
    load_repo, load, load_message = hub_load_row()
    return SimpleNamespace(
        download=download,
        style_file=style_file,
        upload=upload,
        upload_message=upload_message,
        style=style,
        repo_id=repo_id,
        private=private,
        token=token,
        push=push,
        push_message=push_message,
        load_repo=load_repo,
        load=load,
        load_message=load_message,
    )

"""Personal Style Studio, the Gradio app: stylize a selfie, learn a style from a few pictures, share it.

This file assembles and serves the UI (``studio/ui/``, one module per tab); the work is in ``studio/``.
``build_demo(pipe)`` takes any ``PersonalStylePipeline`` (tests pass a tiny one); nothing is loaded at import time.

    python app.py                       # the weights in weights/, on http://127.0.0.1:7860
    python app.py --share               # and a public gradio.live link
    python app.py --weights user/repo   # a pipeline from the Hub
"""

from __future__ import annotations

import argparse
import functools
import logging
from pathlib import Path

import gradio as gr
from PIL import Image

import studio
from pipeline import PersonalStylePipeline, load_image
from studio.ui.handlers import Handlers
from studio.ui.inputs import style_choices
from studio.ui.learn_tab import learn_tab
from studio.ui.share_tab import share_tab
from studio.ui.stylize_tab import stylize_tab
from studio.ui.texts import INTRO
from studio.ui.wiring import wire

ROOT = Path(__file__).resolve().parent
EXAMPLES = sorted((ROOT / "assets" / "examples").glob("*.jpg"))
MAX_FILE_SIZE = "10mb"  # per upload, enforced by the server before any handler runs
STYLIZE_CONCURRENCY = 2  # stylize/preview calls at once (they share the device); learning runs one at a time
QUEUE_SIZE = 16  # waiting events in all; more get "busy" (HTTP 503): at ~0.4 stylize/s on 2 CPU cores, a 40 s wait
SESSION_TTL = 3600  # seconds: a session's files are deleted when its tab closes, and at the latest this old
CSS = """
#style-gallery .grid-wrap { height: auto !important; max-height: none !important; overflow: visible !important; }
#style-gallery .caption-label { font-size: 11px; white-space: normal; overflow-wrap: anywhere; text-overflow: clip; }
@media (max-width: 640px) {
  #style-gallery .grid-container { grid-template-columns: repeat(3, minmax(0, 1fr)) !important; }
}
"""  # the gallery shows every style, no inner scroll, with full names
# shown first when the bank has them: the two looks that change a portrait most, then a colour grade
EXAMPLE_STYLES = ("noir", "neon", "golden_hour")


def build_demo(pipe: PersonalStylePipeline, examples: list[Path] | None = None) -> gr.Blocks:
    """The whole app for ``pipe``; the style gallery is rendered here, once, on the first sample portrait."""
    examples = EXAMPLES if examples is None else examples
    portrait = load_image(examples[0]) if examples else Image.new("RGB", (256, 256), (128, 128, 128))
    names = list(pipe.styles)
    looks = [n for n in EXAMPLE_STYLES if n in names] + [n for n in names if n not in EXAMPLE_STYLES and n != "photo"]
    looks = looks or names or [None]
    example_rows = [[str(path), looks[i % len(looks)]] for i, path in enumerate(examples)]
    thumbnails = studio.style_gallery(pipe, portrait)
    with gr.Blocks(title="Personal Style Studio", analytics_enabled=False, delete_cache=(600, SESSION_TTL)) as demo:
        session_styles = gr.State({})
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Stylize", id="stylize"):
                stylize = stylize_tab(style_choices(pipe, {}), thumbnails, example_rows)
            with gr.Tab("Learn my style", id="learn"):
                learn = learn_tab()
            with gr.Tab("Share", id="share"):
                share = share_tab()
        files = studio.SessionFiles(Path(demo.GRADIO_CACHE) / "sessions", max_age=SESSION_TTL)
        handlers = Handlers(pipe, portrait, files, is_upload=functools.partial(is_visitor_upload, demo))
        wire(demo, handlers, session_styles, stylize, learn, share, STYLIZE_CONCURRENCY)
    return demo


def is_visitor_upload(demo: gr.Blocks, path: str) -> bool:
    """A file a visitor uploaded, and not one the app serves to all (examples, gallery: the same bytes give the
    same server path, so an upload of an example picture is the example's file)."""
    return path in demo.upload_file_set and not any(
        path in getattr(b, "keep_in_cache", ()) for b in demo.blocks.values()
    )


def serve(
    demo: gr.Blocks,
    *,
    host: str | None = None,
    port: int | None = None,
    share: bool = False,
    prevent_thread_lock: bool = False,
) -> gr.Blocks:
    """Queue with limits, then launch: stylize runs ``STYLIZE_CONCURRENCY`` at a time, learning one at a time."""
    demo.queue(default_concurrency_limit=STYLIZE_CONCURRENCY, max_size=QUEUE_SIZE)
    demo.launch(
        server_name=host,
        server_port=port,
        share=share,
        max_file_size=MAX_FILE_SIZE,
        prevent_thread_lock=prevent_thread_lock,
        footer_links=["api", "gradio"],
        theme=gr.themes.Soft(),
        css=CSS,
    )
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Personal Style Studio (Gradio app)")
    parser.add_argument("--weights", default=str(ROOT / "weights"), help="pipeline folder or Hub repo id")
    parser.add_argument("--host", default=None, help="address to bind (default: 127.0.0.1, or Gradio's env setting)")
    parser.add_argument("--port", type=int, default=None, help="port (default: 7860 or the next free one)")
    parser.add_argument("--share", action="store_true", help="also print a public gradio.live link")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    pipe = PersonalStylePipeline.from_pretrained(args.weights)
    import torch

    if torch.cuda.is_available():
        pipe.to("cuda")
    serve(build_demo(pipe), host=args.host, port=args.port, share=args.share)


if __name__ == "__main__":
    main()

"""Push ``weights/`` (the ``save_pretrained`` pipeline folder and its README.md model card) as the base pipeline repo.

    HF_TOKEN=hf_... python -m scripts.push_base                      # -> personal-style-studio/base
    python -m scripts.push_base --weights weights --repo me/base --private

The token comes from ``--token``, else ``$HF_TOKEN``, else a ``hf auth login`` token; it is never printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.hub import BASE_REPO, HubError, push_pipeline

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, default=ROOT / "weights", help="pipeline folder to push")
    parser.add_argument("--repo", default=BASE_REPO, help=f"Hub repo id (default {BASE_REPO})")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--token", help="Hub token with write access (default: $HF_TOKEN)")
    args = parser.parse_args(argv)
    try:
        url = push_pipeline(args.weights, args.repo, token=args.token, private=args.private)
    except (HubError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())

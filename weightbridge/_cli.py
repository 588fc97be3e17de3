"""The `weightbridge` command: demo, signature and convert."""

from __future__ import annotations

import argparse
import shlex
import sys

_DESCRIPTION = "Map deep learning weights between implementations of the same architecture."

_CONVERT_EPILOG = """\
example:
  weightbridge signature my_model.safetensors -o my.json
  weightbridge convert llama-hf/ --like my.json -o converted/ --hint attn.qkv self_attn.q_proj

THEIR and MY are safetensors files, sharded safetensors folders (with an *.index.json), torch
files (.pt/.pth/.bin), .npz archives or TensorFlow checkpoints; MY may be a signature .json.
The output is sharded like transformers (model-00001-of-0000N.safetensors and
model.safetensors.index.json) when it exceeds --max-shard-size, else a single file.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="weightbridge", description=_DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("demo", help="map a small model pair and explain the decisions",
                        description="Map a small model pair and explain the decisions.")

    signature = commands.add_parser(
        "signature", help="write the names, shapes and dtypes of a checkpoint as JSON",
        description="Write the names, shapes and dtypes of a checkpoint as JSON, in file order. "
        "The file stands in for the target model in `weightbridge convert --like`.")
    signature.add_argument("model", metavar="MODEL_FILE", help="checkpoint file or folder")
    signature.add_argument("-o", "--output", metavar="OUT.json",
                           help="where to write the signature (default: standard output)")

    convert = commands.add_parser(
        "convert", help="convert a checkpoint to the names and layouts of another model",
        description="Convert the weights in THEIR to the names, shapes and dtypes of MY and "
        "write them as safetensors, one tensor at a time.",
        epilog=_CONVERT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    convert.add_argument("their", metavar="THEIR", help="checkpoint holding the weights")
    convert.add_argument("--like", required=True, metavar="MY",
                         help="checkpoint or signature .json of the target model")
    convert.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="a .safetensors file or a folder for the converted weights")
    convert.add_argument("--hint", nargs=2, action="append", default=[],
                         metavar=("MY_SUB", "THEIR_SUB"),
                         help="pair the tensors of MY whose names contain MY_SUB exactly with "
                         "those of THEIR whose names contain THEIR_SUB; repeatable")
    convert.add_argument("--their-format", metavar="FORMAT",
                         help="axis order of THEIR's weights: pytorch, flax, tensorflow, ...")
    convert.add_argument("--my-format", metavar="FORMAT", help="axis order of MY's weights")
    convert.add_argument("--ignore-unmatched-inputs", action="store_true",
                         help="allow tensors in THEIR that no tensor of MY needs")
    convert.add_argument("--max-shard-size", default="5GB", metavar="SIZE",
                         help="largest output file before sharding, e.g. 5GB, 500MB, 2GiB "
                         "(default: %(default)s)")
    convert.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run the `weightbridge` command line with `argv` (default: `sys.argv[1:]`) and exit.

    Exits with 0 on success, 1 when the input is bad or the mapping is ambiguous (the reason
    goes to stderr), 2 for a malformed command line, and the demo's own code for `demo`.
    """
    arguments = _parser().parse_args(argv)
    try:
        code = _run(arguments)
    except ValueError as error:
        print(f"weightbridge {arguments.command}: error: {error}", file=sys.stderr)
        hints = getattr(error, "hints", None)
        if hints:
            flags = " ".join(f"--hint {shlex.quote(a)} {shlex.quote(b)}" for a, b in hints)
            print(f"On the command line: {flags}", file=sys.stderr)
        code = 1
    sys.exit(code)


def _run(arguments: argparse.Namespace) -> int:
    if arguments.command == "demo":
        from . import _demo

        return _demo.run()
    if arguments.command == "signature":
        from ._readers import load_lazy, signature_json

        text = signature_json(load_lazy(arguments.model))
        if arguments.output is None:
            sys.stdout.write(text)
        else:
            with open(arguments.output, "w") as file:
                file.write(text)
        return 0
    from ._convert import convert, parse_size

    max_shard_size = parse_size(arguments.max_shard_size)
    written = convert(arguments.their, arguments.like, arguments.output,
                      hints=[tuple(hint) for hint in arguments.hint],
                      in_format=arguments.their_format, out_format=arguments.my_format,
                      ignore_unmatched_inputs=arguments.ignore_unmatched_inputs,
                      max_shard_size=max_shard_size, progress=not arguments.quiet)
    for path in written:
        print(path)
    return 0

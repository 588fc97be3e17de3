"""The `weightbridge` command: demo, signature, match and convert."""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import shlex
import sys

_DESCRIPTION = "Map deep learning weights between implementations of the same architecture."

_FILES = """\
THEIR and MY are safetensors files, sharded safetensors folders (with an *.index.json), torch
files (.pt/.pth/.bin), .npz archives or TensorFlow checkpoints; MY may be a signature .json
(`weightbridge signature`, or `weightbridge.signature(model.state_dict(), "my.json")` in Python,
which keeps the definition order).
"""

_MATCH_EPILOG = """\
example:
  weightbridge match their.safetensors my.json --smallest-first
  weightbridge match their.safetensors my.json --rules -o mapping.json --html report.html
  weightbridge match their.safetensors my.json --explain blocks.0.attn.qkv.weight

""" + _FILES

_CONVERT_EPILOG = """\
example:
  weightbridge signature my_model.safetensors -o my.json
  weightbridge convert llama-hf/ --like my.json -o converted/ --hint attn.qkv self_attn.q_proj
  weightbridge convert llama-hf/ --mapping mapping.json -o converted.pt

""" + _FILES + """
The extension of OUT picks the format: .safetensors, or a folder (sharded like transformers,
model-00001-of-0000N.safetensors and model.safetensors.index.json, above --max-shard-size);
.pt/.pth/.bin (a torch state dict); .npz; .msgpack (Flax serialization, nested at the
separator of MY's names).
"""

# The Python spellings in library messages, and what the command line calls them.
_CLI_SPELLINGS = (
    ("ignore_unmatched_inputs=True", "--ignore-unmatched-inputs"),
    ("ignore_unmatched_outputs=True", "--ignore-unmatched-outputs"),
    ('cast="unsafe"', "--allow-cast"),
    ("in_format=", "--their-format "),
    ("out_format=", "--my-format "),
    ("`their`", "THEIR"),
    ("`my`", "MY"),
    ("with hints (my_substring, their_substring)", "with --hint MY_SUB THEIR_SUB"),
)


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="weightbridge", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"weightbridge {__version__}")
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
    signature.add_argument("--key", metavar="KEY",
                           help="only the tensors under this top-level entry (e.g. model)")

    match = commands.add_parser(
        "match", help="show which weights of THEIR make which weights of MY, and why",
        description="Match THEIR to MY without converting anything: print the mapping table\n"
        "(my name, their name(s), einx transform, margin), the rules it follows, or the evidence\n"
        "for one weight; save the mapping or an HTML report.\n\n"
        "The margin is how much more the best mapping without that pair costs. From 1 on the\n"
        "solver proves a lower bound only, so the table, --explain and the report print every\n"
        "such margin as >=1.000.",
        epilog=_MATCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    match.add_argument("their", metavar="THEIR", help="checkpoint holding the weights")
    match.add_argument("my", metavar="MY", help="checkpoint or signature .json of the target model")
    _matching_options(match)
    match.add_argument("--smallest-first", action="store_true",
                       help="sort the table by margin, the closest decisions first")
    match.add_argument("--explain", metavar="NAME", action="append", default=[],
                       help="print the evidence for the weight NAME of MY; repeatable")
    match.add_argument("--rules", action="store_true",
                       help="print the mapping as rules over indices instead of the table")
    match.add_argument("-o", "--output", metavar="MAPPING.json",
                       help="save the mapping, for `convert --mapping`")
    match.add_argument("--html", metavar="REPORT.html",
                       help="write a self-contained HTML report (also for an ambiguity)")
    match.add_argument("-q", "--quiet", action="store_true", help="no progress")

    convert = commands.add_parser(
        "convert", help="convert a checkpoint to the names and layouts of another model",
        description="Convert the weights in THEIR to the names, shapes and dtypes of MY and "
        "write them one tensor at a time.",
        epilog=_CONVERT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    convert.add_argument("their", metavar="THEIR", help="checkpoint holding the weights")
    target = convert.add_mutually_exclusive_group(required=True)
    target.add_argument("--like", metavar="MY",
                        help="checkpoint or signature .json of the target model")
    target.add_argument("--mapping", metavar="MAPPING.json",
                        help="a mapping saved by `weightbridge match -o`: no matching")
    convert.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="output file (.safetensors, .pt, .bin, .npz, .msgpack) or folder")
    _matching_options(convert)
    convert.add_argument("--allow-cast", action="store_true",
                         help="allow dtype casts that change values beyond rounding "
                         "(overflow to inf, float to int)")
    convert.add_argument("--max-shard-size", default="5GB", metavar="SIZE",
                         help="largest output file before sharding, e.g. 5GB, 500MB, 2GiB "
                         "(default: %(default)s)")
    convert.add_argument("-q", "--quiet", action="store_true", help="no progress")
    return parser


def _matching_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hint", nargs=2, action="append", default=[],
                        metavar=("MY_SUB", "THEIR_SUB"),
                        help="pair the tensors of MY whose names contain MY_SUB exactly with "
                        "those of THEIR whose names contain THEIR_SUB; repeatable")
    parser.add_argument("--key", metavar="KEY",
                        help="take only THEIR's tensors under this top-level entry, e.g. model "
                        "of a training checkpoint {epoch, model, optimizer}")
    parser.add_argument("--their-format", metavar="FORMAT",
                        help="axis order of THEIR's weights: pytorch, flax, tensorflow, ...")
    parser.add_argument("--my-format", metavar="FORMAT", help="axis order of MY's weights")
    parser.add_argument("--ignore-unmatched-inputs", action="store_true",
                        help="allow tensors in THEIR that no tensor of MY needs")
    parser.add_argument("--ignore-unmatched-outputs", action="store_true",
                        help="allow tensors of MY without a partner (they are not written)")


def main(argv: list[str] | None = None) -> None:
    """Run the `weightbridge` command line with `argv` (default: `sys.argv[1:]`) and exit.

    Exits with 0 on success, 1 when the input is bad, the mapping is ambiguous or the system
    refuses (the reason goes to stderr, without a traceback), 2 for a malformed command line,
    130 when interrupted (nothing is written), and the demo's own code for `demo`.
    """
    arguments = _parser().parse_args(argv)
    prefix = f"weightbridge {arguments.command}"
    try:
        with _progress(arguments):
            code = _run(arguments)
    except BrokenPipeError:
        # The reader of standard output left (`| head`): nothing more to say to anyone.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted, nothing written", file=sys.stderr)
        code = 130
    except ValueError as error:
        print(f"{prefix}: error: {in_cli_words(str(error))}", file=sys.stderr)
        hints = getattr(error, "hints", None)
        if hints and "hints=[" not in str(error):
            print(f"On the command line: {_hint_flags(hints)}", file=sys.stderr)
        code = 1
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        print(f"{prefix}: error: {where}{error.strerror or error}", file=sys.stderr)
        code = 1
    sys.exit(code)


def in_cli_words(message: str) -> str:
    """A library message with its Python spellings replaced by the command line's options."""
    for python, cli in _CLI_SPELLINGS:
        message = message.replace(python, cli)
    message = re.sub(r"key='([^']*)'", lambda m: f"--key {shlex.quote(m.group(1))}", message)
    message = re.sub(r"hints=(\[.*\])", lambda m: _hint_flags(ast.literal_eval(m.group(1))), message)
    return re.sub(r"hint (\('(?:[^'\\]|\\.)*', '(?:[^'\\]|\\.)*'\))",
                  lambda m: _hint_flags([ast.literal_eval(m.group(1))]), message)


def _hint_flags(hints) -> str:
    return " ".join(f"--hint {shlex.quote(a)} {shlex.quote(b)}" for a, b in hints)


def _progress(arguments: argparse.Namespace):
    """Stages and bars on stderr when it is a terminal and -q is not given."""
    from ._progress import TerminalReporter, reporting

    if getattr(arguments, "quiet", True) or not sys.stderr.isatty():
        return contextlib.nullcontext()
    return reporting(TerminalReporter(sys.stderr))


def _shows_progress(arguments: argparse.Namespace) -> bool:
    return not arguments.quiet and sys.stderr.isatty()


def _run(arguments: argparse.Namespace) -> int:
    if arguments.command == "demo":
        from . import _demo

        return _demo.run()
    if arguments.command == "signature":
        return _signature(arguments)
    if arguments.command == "match":
        return _match(arguments)
    return _convert(arguments)


def _signature(arguments: argparse.Namespace) -> int:
    from ._convert import select_key
    from ._mapping import write_text_atomically
    from ._readers import load_lazy, signature_json

    text = signature_json(select_key(load_lazy(arguments.model), arguments.key, "MODEL_FILE"))
    if arguments.output is None:
        sys.stdout.write(text)
    else:
        write_text_atomically(arguments.output, text)
    return 0


def _match(arguments: argparse.Namespace) -> int:
    from ._convert import match_files
    from ._errors import AmbiguityError
    from ._report import write_report

    for path in filter(None, (arguments.output, arguments.html)):
        _check_writable(path)
    their, my = None, None

    def read(their_tensors, my_tensors):
        nonlocal their, my
        their, my = their_tensors, my_tensors

    try:
        _, _, mapping = match_files(arguments.their, arguments.my, on_read=read,
                                    **_matching_arguments(arguments))
    except AmbiguityError as error:
        if arguments.html and their is not None:
            write_report(arguments.html, their=their, my=my, error=error, words=in_cli_words)
        raise
    names = {pair.my for pair in mapping.pairs}
    for name in arguments.explain:
        if name not in names:
            raise ValueError(f"MY has no matched weight {name!r}")
    # Files first: what is printed may go to a pipe that closes early (`| head`).
    if arguments.output:
        mapping.save(arguments.output)
    if arguments.html:
        write_report(arguments.html, their=their, my=my, mapping=mapping)
    for name in arguments.explain:
        print(mapping.explain(name))
    if arguments.rules:
        print("\n".join(mapping.rules()))
    elif not arguments.explain:
        print(mapping.table(smallest_first=arguments.smallest_first))
    return 0


def _check_writable(path: str) -> None:
    from pathlib import Path

    from ._convert import check_writable_folder

    if Path(path).is_dir():
        raise ValueError(f"{path}: is a folder; name a file")
    check_writable_folder(Path(path).parent)


def _matching_arguments(arguments: argparse.Namespace) -> dict:
    return dict(hints=[tuple(hint) for hint in arguments.hint], key=arguments.key,
                in_format=arguments.their_format, out_format=arguments.my_format,
                ignore_unmatched_inputs=arguments.ignore_unmatched_inputs,
                ignore_unmatched_outputs=arguments.ignore_unmatched_outputs)


def _convert(arguments: argparse.Namespace) -> int:
    from ._convert import convert, parse_size

    max_shard_size = parse_size(arguments.max_shard_size)
    written = convert(arguments.their, arguments.like, arguments.output,
                      mapping=arguments.mapping, cast="unsafe" if arguments.allow_cast else "safe",
                      max_shard_size=max_shard_size, progress=_shows_progress(arguments),
                      **_matching_arguments(arguments))
    for path in written:
        print(path)
    return 0

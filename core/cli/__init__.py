"""The `fixative` command. Each command is a module with `add_parser(subparsers)` and `run(args)`,
registered once in COMMANDS; the library's modules know nothing of argparse.

Exit codes: 0 all done, 1 some inputs failed (the others were still processed), 2 usage error.

May import every package of the core (`jobs`, `protection`, `image`, `declarations`) and
`atomic`, `errors`; only `fixative.__main__` and the `fixative` script import it.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from .. import __version__
from ..errors import FixativeError
from .common import UsageError

# The modules of this package that add a command, in the order `fixative --help` lists them.
COMMANDS = ("protect", "batch", "info", "check", "snippets")
# Where `fixative --help` sends a reader: pages of docs/ (a test checks they exist).
HELP_PAGES = {"cli.md": "every command and option", "declarations.md": "the declarations"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fixative",
        description="Protect images against generative-AI mimicry and declare them not for "
        "AI training.",
        epilog="Documentation: "
        + "; ".join(f"{what}: docs/{page}" for page, what in HELP_PAGES.items())
        + " (in the Fixative repository).",
    )
    parser.add_argument("--version", action="version", version=f"fixative {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        mod = import_module(f".{module}", __name__)
        mod.add_parser(sub).set_defaults(run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except UsageError as exc:
        parser.error(str(exc))  # exits with 2
    except FixativeError as exc:
        print(f"fixative: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fixative: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

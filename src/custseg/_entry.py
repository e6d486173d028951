"""The console entry point: the CLI, with Ctrl+C handled even while it loads."""

import sys


def _interrupted() -> None:
    sys.stderr.write("interrupted: nothing was written\n")
    sys.exit(130)


def main() -> None:
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        _interrupted()
    try:
        cli_main()
    except KeyboardInterrupt:  # outside a command's own handler (start-up, shutdown)
        _interrupted()

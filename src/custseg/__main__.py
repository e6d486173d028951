"""``python -m custseg``."""

from .cli import main

main()

"""``python -m custseg``."""

from ._entry import main

main()

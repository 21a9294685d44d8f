"""`python -m threadlog` runs the command-line interface."""

from threadlog.cli import main

main()

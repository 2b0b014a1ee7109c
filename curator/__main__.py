"""`python -m curator` runs the CLI."""

from .cli import main

main()

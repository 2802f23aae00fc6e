"""CLI subcommands: argument parsing and printing only; the work is done by library functions."""

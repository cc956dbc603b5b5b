"""The optional ROUNDS argument the timing scripts share."""

import sys


def rounds_from_argv(default: int) -> int:
    """The script's one optional argument, a positive whole number of rounds, or ``default`` without it.

    Exits with the usage for anything else (a second argument, zero, a negative or non-numeric value).
    """
    arguments = sys.argv[1:]
    if not arguments:
        return default
    if len(arguments) == 1 and arguments[0].isdigit() and int(arguments[0]) > 0:
        return int(arguments[0])
    raise SystemExit(f"usage: {sys.argv[0]} [ROUNDS]  (a positive whole number, default {default})")

"""The numbers a command-line option accepts: one range and one message per kind of number.

Used as argparse `type=` by the CLI (cli/main.py) and by the training job's options
(train/config.py), and by `check` for values that did not come through argparse (a resumed
run's saved options):

    --rate 1.5        error: argument --rate: expected a number between 0 and 1, got 1.5
    --mask-rate 1.5   error: argument --mask-rate: expected a number between 0 and 1, got 1.5

Not-a-number and infinity are never a valid value for any of them.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable

from mlm_explorer.errors import InputError


class NumberType:
    """An argparse type: `convert` the string, then require `accept(number)`."""

    def __init__(self, convert: Callable[[str], Any], accept: Callable[[Any], bool], wanted: str) -> None:
        self.convert, self.accept, self.wanted = convert, accept, wanted
        self.__name__ = wanted  # argparse names the type in some messages

    def ok(self, number) -> bool:
        return isinstance(number, (int, float)) and math.isfinite(number) and bool(self.accept(number))

    def __call__(self, text: str):
        try:
            number = self.convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {self.wanted}, got {text!r}") from None
        if not self.ok(number):
            raise argparse.ArgumentTypeError(f"expected {self.wanted}, got {number}")
        return number

    def check(self, option: str, value) -> None:
        """InputError with argparse's wording when `value` (already a number) is out of range."""
        if value is not None and not self.ok(value):
            raise InputError(f"argument {option}: expected {self.wanted}, got {value}")


positive_int = NumberType(int, lambda n: n >= 1, "a whole number >= 1")
probability = NumberType(float, lambda n: 0.0 <= n <= 1.0, "a number between 0 and 1")
positive_float = NumberType(float, lambda n: n > 0, "a number > 0")

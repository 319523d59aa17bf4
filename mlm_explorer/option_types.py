"""What a command-line option accepts: one range and one message per kind of number, and text
that must be UTF-8.

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
import re
from typing import Any, Callable

from mlm_explorer.errors import InputError


# argparse takes "-1e-4" or "-inf" for an option (its own pattern knows only "-5" and "-0.5"), and
# then says "expected one argument"; with this one such a value reaches the type, which names the range.
NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$|^-(inf|infinity|nan)$", re.IGNORECASE)


def read_negative_numbers(parser: argparse.ArgumentParser) -> None:
    """Let `parser` read "-1e-4" as a value (argparse keeps its pattern in a private attribute)."""
    parser._negative_number_matcher = NEGATIVE_NUMBER


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


def at_least(low: int) -> NumberType:
    return NumberType(int, lambda n: n >= low, f"a whole number >= {low}")


positive_int = at_least(1)
non_negative_int = at_least(0)
any_int = NumberType(int, lambda n: True, "a whole number")
probability = NumberType(float, lambda n: 0.0 <= n <= 1.0, "a number between 0 and 1")
open_fraction = NumberType(float, lambda n: 0.0 < n < 1.0, "a number between 0 and 1 (not 0 or 1)")
positive_float = NumberType(float, lambda n: n > 0, "a number > 0")
non_negative_float = NumberType(float, lambda n: n >= 0, "a number >= 0")
at_least_one = NumberType(float, lambda n: n >= 1, "a number >= 1")
seed = NumberType(int, lambda n: 0 <= n < 2 ** 32, "a whole number from 0 to 4294967295")


def utf8_text(value: str, what: str) -> str:
    """`value` as given; InputError when it holds bytes that are not UTF-8 (Python passes such
    argv bytes on as lone surrogates, which no tokenizer takes)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = value[exc.start].encode("utf-8", "surrogateescape")
        raise InputError(f"{what} is not valid UTF-8 (byte 0x{byte[0]:02x} at character {exc.start + 1}); "
                         "give it as UTF-8 text") from None
    return value

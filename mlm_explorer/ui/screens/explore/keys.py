"""The Explore screen's keys, and which of them work where the focus is.

Letter keys (r, c, n, ...) are screen bindings: they work while the token chips, the mask
table or the distribution has the focus. In the text box and the number fields a letter types
itself, so `typing_key_actions` lists the actions of those keys, which the screen hides from the
footer there (`ExploreScreen.check_action`); esc (text box) or enter (fields) leads back.
The app opens with the focus on the chips (the text box when there is no text), so the first
`r` masks at random instead of typing an "r".
"""

from __future__ import annotations

from textual.binding import Binding

from mlm_explorer.ui.screens.explore.lenses import LENS_BINDINGS

EXPLORE_BINDINGS = [
    Binding("r", "random_mask", "Random mask", tooltip="Apply the masking engine (rate, seed); again: next seed"),
    Binding("c", "clear", "Unmask all", tooltip="Unmask every token (the text stays: ctrl+l in the text box clears it)"),
    Binding("n", "jump_mask(1)", "Next mask", tooltip="The next mask's distribution (N: the previous one)"),
    Binding("N", "jump_mask(-1)", "Prev mask", show=False, tooltip="The previous mask's distribution"),
    Binding("j", "toggle_joint", "Joint/indep.", tooltip="Fill several masks jointly (most confident first) or independently"),
    Binding("W", "toggle_whole_word", "Whole-word r", show=False,
            tooltip="Random masking picks whole words (on/off)"),
    Binding("R", "focus_rate", "Rate/seed", show=False,
            tooltip="To the rate field (tab: the seed); enter there applies random masking"),
    Binding("b", "toggle_base", "Before/after", tooltip="Show the base model beside the fine-tuned one"),
    Binding("p", "pin_probe", "Pin probe", show=False,
            tooltip="Pin the text with the selected mask as a probe, watched while fine-tuning (Train)"),
    Binding("plus,equals_sign", "top_k(1)", "k+1", show=False),
    Binding("minus", "top_k(-1)", "k-1", show=False),
    Binding("escape", "focus_tokens", "Tokens", show=False),
    Binding("t", "focus_text", "Edit text", tooltip="To the text box (esc: back to the tokens)"),
    Binding("k", "candidates", "Candidates", show=False,
            tooltip="Score your own words at the selected mask; the best fills of 1-3 pieces"),
    Binding("J", "kbest", "K best fills", show=False,
            tooltip="The k best joint fills of all masks by PLL, beside the most-confident-first fill"),
] + [Binding(str(i), f"choose({i - 1})", f"choose {i}", show=False) for i in range(1, 10)] + LENS_BINDINGS

# what the tokens box's bottom border says, by where the focus is (the footer may cut keys at 80 columns)
CHIP_HINT = "space mask · w word · n/N next/prev mask · r random · t text"
TEXT_HINT = "esc: to the chips (space, r, n mask there)"
FIELD_HINT = "enter in rate / seed: random masking as typed · tab: next field · esc: to the chips"

# keys that are a character a text field types (named ones as Textual names them)
_PRINTABLE_NAMES = {
    "plus", "minus", "equals_sign", "left_square_bracket", "right_square_bracket", "left_curly_bracket",
    "right_curly_bracket", "less_than_sign", "greater_than_sign", "question_mark", "space",
}


def _typed(key: str) -> bool:
    return len(key) == 1 or key in _PRINTABLE_NAMES


def typing_key_actions(bindings: list[Binding]) -> frozenset[str]:
    """The action names (no arguments) of the bindings whose every key is a character."""
    return frozenset(b.action.split("(", 1)[0] for b in bindings if all(_typed(k.strip()) for k in b.key.split(",")))


TYPING_KEY_ACTIONS = typing_key_actions(EXPLORE_BINDINGS)


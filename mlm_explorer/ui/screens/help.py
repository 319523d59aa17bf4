"""The help screen (`?` / F1): what the app shows, in a few lines each, and every key."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# mlm-explorer

## Masked language modelling (MLM)
A BERT-style encoder reads the whole text at once, with some tokens hidden behind
`[MASK]`, and predicts a probability for every word of its vocabulary at each hidden
position. That distribution is what the **Distribution** panel shows: the top-k
candidates (bars scaled to the first one), the entropy (how unsure the model is, in
nats), the probability mass left outside the top-k, and, when the original token is
known, its rank and probability. Training minimises the cross-entropy of the original tokens at
the picked positions: the **loss** shown under the decode line.

## The 80/10/10 rule
In training, BERT picks ~15% of the tokens (the *rate*). Of those, 80% become `[MASK]`,
10% become a **random** token and 10% are **kept** unchanged, yet all of them are
predicted. The random and kept ones stop the model from learning that only `[MASK]`
positions matter. Press `r` to apply exactly that engine to your text: red chips became
`[MASK]`, yellow ones a random token (shown after the arrow), green ones were kept.
`r` again re-rolls with the next seed.

## Subwords
Tokenizers split rare words into pieces (`un·believ·able`). Masking one piece while its
neighbours stay visible is easy for the model; `w` (or shift+click) masks the whole word.

## T5 sentinels
T5 is trained differently: spans of text are cut out and replaced by sentinels
`<extra_id_0>`, `<extra_id_1>`, …, and the decoder writes the missing spans after
their sentinels. **Compare** (F3) turns your masks into sentinels (adjacent masks
become one span) and shows T5's fill beside the BERT fill. Without a T5 (`--t5`), the
bundled span infiller fills that side: trained with T5's objective, but a small BERT2BERT
model, not a T5, and only briefly trained (see the README).

## Fine-tuning
**Train** (F4) runs the same masking engine on your files in a separate process:
live loss, tokens/s, ETA and eval perplexity. The form starts from a short run for the
device (about a minute on a CPU, estimate shown) and from Explore's masking (rate, `W`).
`ctrl+g` starts a run, `ctrl+x` cancels it (asks first; the checkpoint is kept, also from a
form field), `ctrl+o` resumes the run chosen under *Resume* (any cancelled, killed or failed
run) from its last checkpoint: the job panel says "resumed from step N". *Load into Explore*
(`ctrl+l`, or a run picked in the command palette) puts the fine-tuned model in Explore with
the model the run started from (its run.json) as the base: press `b`
to see before and after side by side on the same masks, with the change in probability
of each candidate (Δ, under the mask table). **Probes**: press `p` on a masked token to
pin the sentence (answer: that token); Train shows each probe's rank and probability
at every evaluation of the next run, with the change since step 0.

## Lenses: surprisal, attention, saliency
One lens at a time colours the token chips (the bar under them gives the scale):
- `s` **surprisal**: each token masked in turn, −log p of the true token (plain = expected,
  orange = surprising), and the sentence's pseudo-log-likelihood (PLL, the sum of the
  log p) and pseudo-perplexity exp(−PLL / N). Typed blanks are not scored. The PLL is
  PLL-word-l2r (Kauf & Ivanova 2023: a piece is scored with the later pieces of its word
  masked too, so a long word is not scored as easy); `v` switches to the original PLL
  (each token masked alone, Salazar et al. 2020). The caption names the one shown.
- `a` **attention**: how much the token under the cursor attends to every token (←/→ moves
  it). `[` `]` pick the layer, `{` `}` (or `<` `>`) the head; after the last comes the mean.
  Much attention goes to `[CLS]`/`[SEP]`: a known habit of BERT, not a bug.
- `g` **saliency**: which tokens made the selected mask's top prediction (or the candidate
  highlighted in the distribution): integrated gradients over the word embeddings, from
  `[MASK]` everywhere (specials kept) to your input; the completeness gap says how well the
  parts add up to the whole change of log p. `i` switches to gradient × input. Green: for
  the prediction, red: against it.
Press the lens's key again, or `0`, to turn it off (after a change of the input, e.g. a new mask
under saliency, the key shows the lens for the new input instead). The surprisal caption gives
the number of the token under the cursor. Lenses use temperature 1.

## Candidate words
`k` opens a box under the mask table: type words for the selected mask, comma-separated.
A word of one piece gets its probability and rank; a word of several pieces fills as
many masks, scored jointly, most confident first (its rank is not computed: n/a). Below,
the best fills of 1, 2 and 3 pieces, ranked by log-probability per piece.

## The k best joint fills
`J` lists, under the distribution, the best fills of all masks together, each scored by the
masks' pseudo-log-likelihood: the sum over masks of log p(its token | the other masks filled).
Up to three masks the search is exact over each mask's top candidates; above, a beam. Masks
typed or clicked together ("[MASK][MASK]", the pieces of one word) fill one word. Beside it,
the most-confident-first fill (`j`): its PLL, its rank, and whether the two agree.

## The text box, the masks and the fields
The app opens with the cursor on the token chips, so the letter keys act at once; in the text
box (`t`) and in the number fields a letter types itself, and the footer shows only the keys
that work where you are.

| key | where | does |
|---|---|---|
| ctrl+a | text box | select all the text (home: the line start) |
| ctrl+l, *Clear text* | text box, Explore | delete the whole text (ctrl+z brings it back) |
| esc | text box | back to the token chips |
| c, *Unmask all* | Explore | unmask every token (the text stays) |
| n / N | Explore | the next / previous mask: its distribution (the panel's title names the mask it shows) |
| R, tab | Explore | to the rate field, then the seed; enter there applies random masking as typed |
| r | Explore | random masking; a seed or rate you typed is used, pressed again: the next seed |
| W, *whole words* | Explore | random masking by whole words (the checkbox shows on / off) |

## Keys
| key | where | does |
|---|---|---|
| ←/→, space | tokens | move, mask/unmask a token (or click it) |
| w, shift+click | tokens | mask/unmask the whole word |
| r | Explore | random masking (again: next seed) |
| W | Explore | random masking by whole words (on/off) |
| c | Explore | clear all masks |
| 1–9, enter | Explore | write that candidate into the text |
| j | Explore | joint (most confident first) or independent filling |
| + / − | Explore | more / fewer candidates (top-k) |
| b | Explore | before/after (base vs fine-tuned, Δ per candidate) |
| p | Explore | pin the text with the selected mask as a probe |
| ctrl+g, ctrl+r | Train | start a run; preview what it would train on |
| ctrl+x | Train | cancel the job (asks first; its checkpoint is kept) |
| ctrl+o | Train | resume the chosen unfinished run from its checkpoint |
| ctrl+l | Train | load the run into Explore, with its base model |
| del | Train, pinned probes | unpin the highlighted probe |
| t / esc | Explore | edit the text / back to the tokens |
| s a g, 0 | Explore | lens: surprisal, attention, saliency; off |
| [ ] { } | Explore | attention: layer, head (then the mean) |
| i | Explore | saliency: integrated gradients / gradient × input |
| v | Explore | surprisal: PLL-word-l2r / original PLL |
| k | Explore | candidate words for the selected mask |
| J | Explore | the k best joint fills of all masks (by PLL) |
| F2 F3 F4 | anywhere | Explore, Compare, Train |
| ctrl+p | anywhere | command palette: switch models |
| ctrl+t | anywhere | dark / light theme |
| ctrl+s | anywhere | export the view (JSON, Markdown, HTML, SVG: offline) |
| ctrl+q | anywhere | quit |
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,f1,question_mark", "dismiss", "Close", tooltip="Close the help"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 95%; height: 90%;
        border: thick $primary 70%; background: $surface; padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(HELP, id="help-text")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)

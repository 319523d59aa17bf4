"""Tiny models built in-process so the suite runs offline in seconds.

Tokenizers are made on the fly (a WordPiece vocabulary derived from the corpus, with
`[MASK]`, a few `[unusedN]` ids and real `##` subwords, for BERT; a Unigram trained with the
`tokenizers` library, with `<extra_id_N>` sentinels, for T5), the same in every process, wrapped in the transformers fast tokenizer classes, and saved with
`save_pretrained` so every test also exercises the real local-directory loading path.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "The cute dog walks in the green park.",
    "The quick brown fox jumps over the lazy dog.",
    "Paris is the capital of France.",
    "Berlin is the capital of Germany.",
    "A cat sat on the mat and looked at the window.",
    "She reads a book every evening before sleeping.",
    "Unbelievable things happen when tokenizers split words into pieces.",
    "Machine learning models predict masked words from their context.",
    "The weather today is sunny with a gentle breeze.",
    "Children play football in the playground after school.",
    "Programming languages like Python are popular for data science.",
    "He drank a cup of coffee and went to work.",
] * 4

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "[unused1]", "[unused2]"]


# Words the tiny WordPiece vocabulary splits into subwords, so tests see real "##" pieces.
SPLIT_WORDS = {
    "unbelievable": ["un", "##believ", "##able"],
    "tokenizers": ["token", "##izer", "##s"],
    "programming": ["program", "##ming"],
    "playground": ["play", "##ground"],
    "sleeping": ["sleep", "##ing"],
}


def wordpiece_vocab(corpus=CORPUS) -> dict[str, int]:
    """A WordPiece vocabulary derived from `corpus`, the same in every process.

    The `tokenizers` WordPiece trainer breaks frequency ties by hash order, which differs
    from process to process (and with it every token id and every "memorised" test), so the
    vocabulary is built here instead: the corpus's words through the real BERT normaliser and
    pre-tokenizer, the `SPLIT_WORDS` split into subwords, and every character both as a word
    start and as a `##` continuation, so any word still tokenizes.
    """
    from tokenizers import normalizers, pre_tokenizers

    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()
    words = sorted({w for line in corpus for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(line))})
    pieces = [piece for w in words for piece in SPLIT_WORDS.get(w, [w])]
    chars = sorted({c for w in words for c in w})
    ordered = BERT_SPECIALS + sorted(set(pieces)) + chars + ["##" + c for c in chars]
    return {tok: i for i, tok in enumerate(dict.fromkeys(ordered))}


def make_bert_tokenizer(corpus=CORPUS):
    from transformers import BertTokenizerFast

    return BertTokenizerFast(vocab=wordpiece_vocab(corpus), model_max_length=64)


def train_unigram_vocab(corpus=CORPUS, vocab_size: int = 200) -> list[tuple[str, float]]:
    """A Unigram (SentencePiece-style) vocabulary trained with `tokenizers`, put in a canonical
    order with rounded scores: the trainer finds the same pieces in every process but lists
    them in hash order with scores that differ in the last digits."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    specials = ["<pad>", "</s>", "<unk>"]
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials, unk_token="<unk>")
    tok.train_from_iterator(corpus, trainer)
    pieces = [(p, round(score, 2)) for p, score in json.loads(tok.to_str())["model"]["vocab"] if p not in specials]
    pieces.sort(key=lambda ps: (-ps[1], ps[0]))
    return [(p, 0.0) for p in specials] + pieces


def make_t5_tokenizer(corpus=CORPUS, vocab_size: int = 200, extra_ids: int = 20):
    from transformers import T5TokenizerFast

    return T5TokenizerFast(vocab=train_unigram_vocab(corpus, vocab_size), extra_ids=extra_ids, model_max_length=64)


def build_tiny_bert(out_dir: Path, *, seed: int = 0, with_tokenizer=None):
    """A 2-layer BertForMaskedLM with random weights, saved as safetensors."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    tok = with_tokenizer or make_bert_tokenizer()
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, pad_token_id=tok.pad_token_id,
    )
    model = BertForMaskedLM(config).eval()
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir


def build_tiny_t5(out_dir: Path, *, seed: int = 0, with_tokenizer=None):
    """A 2-layer T5ForConditionalGeneration with random weights, saved as safetensors."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tok = with_tokenizer or make_t5_tokenizer()
    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=len(tok), d_model=32, d_ff=64, d_kv=16, num_layers=2, num_decoder_layers=2,
        num_heads=2, decoder_start_token_id=tok.pad_token_id, pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    model = T5ForConditionalGeneration(config).eval()
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir


def build_tiny_bert2bert(out_dir: Path, *, seed: int = 0):
    """A 2-layer BERT2BERT EncoderDecoderModel (the bundled infiller's architecture, random
    weights) with the infiller's tokenizer conventions: the tiny vocabulary's three `[unusedN]`
    slots as `<extra_id_N>` sentinels, `[SEP]` as EOS."""
    import tempfile

    import torch
    from transformers import BertConfig, EncoderDecoderConfig, EncoderDecoderModel

    from mlm_explorer.core.load.bundled_infiller import build_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        make_bert_tokenizer().save_pretrained(tmp)
        tok = build_tokenizer(Path(tmp), num_sentinels=3)
    tok.model_max_length = 64
    torch.manual_seed(seed)
    shape = dict(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=64, pad_token_id=tok.pad_token_id)
    config = EncoderDecoderConfig.from_encoder_decoder_configs(
        BertConfig(**shape), BertConfig(**shape, is_decoder=True, add_cross_attention=True))
    config.decoder_start_token_id, config.eos_token_id = tok.cls_token_id, tok.sep_token_id
    config.pad_token_id, config.vocab_size = tok.pad_token_id, len(tok)
    model = EncoderDecoderModel(config=config).eval()
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir

"""Tiny models built in-process so the suite runs offline in seconds.

Tokenizers are trained on the fly with the `tokenizers` library (a real WordPiece with
`[MASK]` and a few `[unusedN]` ids for BERT; a real Unigram with `<extra_id_N>` sentinels
for T5), wrapped in the transformers fast tokenizer classes, and saved with
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


def train_wordpiece_vocab(corpus=CORPUS, vocab_size: int = 300) -> dict[str, int]:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=BERT_SPECIALS)
    tok.train_from_iterator(corpus, trainer)
    return tok.get_vocab()


def make_bert_tokenizer(corpus=CORPUS, vocab_size: int = 300):
    from transformers import BertTokenizerFast

    return BertTokenizerFast(vocab=train_wordpiece_vocab(corpus, vocab_size), model_max_length=64)


def train_unigram_vocab(corpus=CORPUS, vocab_size: int = 200) -> list[tuple[str, float]]:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    tok.train_from_iterator(corpus, trainer)
    return [(piece, score) for piece, score in tok.get_vocab_scores()] if hasattr(
        tok, "get_vocab_scores"
    ) else _unigram_pieces(tok)


def _unigram_pieces(tok) -> list[tuple[str, float]]:
    import json

    return [tuple(p) for p in json.loads(tok.to_str())["model"]["vocab"]]


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

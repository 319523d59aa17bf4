"""Tiny random models of every family people bring, each with its family's real tokenizer style.

`FAMILIES` lists one entry per family: the transformers config class with 2 small layers, the
family's own tokenizer class (from transformers) built on a vocabulary trained here with
`tokenizers` in that family's style, and the real hub names the entry stands for:

    wordpiece       "##" marks a continuation (BERT cased and uncased, DistilBERT, ELECTRA,
                    Megatron-BERT, MPNet, Funnel)
    byte-level BPE  "Ġ" marks a word start (RoBERTa, Longformer, DeBERTa, ModernBERT, BART)
    sentencepiece   Unigram, "▁" marks a word start (XLM-R, CamemBERT, ALBERT, DeBERTa-v2/v3,
                    BigBird, T5, mT5, mBART)
    bytes           one token per UTF-8 byte (ByT5)

Special tokens sit where the real checkpoints put them (XLM-R's <unk> at 3, ALBERT's at 1...)
and the mask token swallows the space before it where the real one does (`lstrip`), so the
quirks of each family are the real ones. `build(name, directory)` writes save_pretrained
output (safetensors) that `core.load.models` loads like any local model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from tiny import BERT_SPECIALS, CORPUS, SPLIT_WORDS, train_unigram_vocab, wordpiece_vocab

# Text every family can spell (the corpus's words), with capitals, punctuation and a split word.
TEXT = "The cute dog walks in the green park."
BLANK_TEXT = "The cute dog ___ in the green park."
TWO_BLANKS = "The ___ dog walks in the ___ park."
LONG_TEXT = ("The quick brown fox jumps over the lazy dog. " * 4).strip()   # > 28 tokens: BigBird's sparse path
SIZE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


# ---------------------------------------------------------------------------------------------
# Vocabularies in each style (deterministic: canonical orders, no trainer tie-breaking by hash)


def _cased_wordpiece(specials: list[str]) -> dict[str, int]:
    """A cased WordPiece vocabulary: the corpus's words as written, plus every character."""
    from tokenizers import pre_tokenizers

    pre = pre_tokenizers.BertPreTokenizer()
    words = sorted({w for line in CORPUS for w, _ in pre.pre_tokenize_str(line)})
    pieces = [p for w in words for p in SPLIT_WORDS.get(w, [w])]   # "Unbelievable" whole, "tokenizers" split
    chars = sorted({c for w in words for c in w})
    ordered = specials + sorted(set(pieces)) + chars + ["##" + c for c in chars]
    return {tok: i for i, tok in enumerate(dict.fromkeys(ordered))}


def _uncased_wordpiece(specials: list[str]) -> dict[str, int]:
    base = wordpiece_vocab()
    ordered = specials + [t for t in base if t not in BERT_SPECIALS]
    return {tok: i for i, tok in enumerate(dict.fromkeys(ordered))}


@lru_cache(maxsize=None)
def _byte_bpe() -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Byte-level BPE merges learned on the corpus, replayed in a canonical order: (alphabet, merges)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=600, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    model = json.loads(tok.to_str())["model"]
    merges = tuple(tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"])
    alphabet = tuple(sorted(pre_tokenizers.ByteLevel.alphabet()))
    return alphabet, merges


def _bpe_vocab(specials: list[str], tail: list[str] = ()) -> tuple[dict[str, int], list[tuple[str, str]]]:
    alphabet, merges = _byte_bpe()
    ordered = specials + list(alphabet) + ["".join(m) for m in merges] + list(tail)
    return {tok: i for i, tok in enumerate(dict.fromkeys(ordered))}, list(merges)


def _unigram(head: list[str], tail: list[str] = ()) -> list[tuple[str, float]]:
    pieces = [p for p in train_unigram_vocab(CORPUS, 300) if p[0] not in ("<pad>", "</s>", "<unk>")]
    return [(t, 0.0) for t in head] + pieces + [(t, 0.0) for t in tail]


def _lstrip(token: str):
    from tokenizers import AddedToken

    return AddedToken(token, lstrip=True, rstrip=False, normalized=False, special=True)


# ---------------------------------------------------------------------------------------------
# Tokenizers, as each family's own class builds them


def tok_bert_uncased():
    from transformers import BertTokenizer

    return BertTokenizer(vocab=_uncased_wordpiece(BERT_SPECIALS), do_lower_case=True, model_max_length=128)


def tok_bert_cased():
    from transformers import BertTokenizer

    return BertTokenizer(vocab=_cased_wordpiece(BERT_SPECIALS), do_lower_case=False, model_max_length=128)


def tok_distilbert():
    from transformers import DistilBertTokenizer

    return DistilBertTokenizer(vocab=_uncased_wordpiece(BERT_SPECIALS), model_max_length=128)


def tok_mpnet():
    from transformers import MPNetTokenizer

    specials = ["<s>", "<pad>", "</s>", "[UNK]", "<mask>"]
    return MPNetTokenizer(vocab=_uncased_wordpiece(specials), mask_token=_lstrip("<mask>"), model_max_length=128)


def tok_funnel():
    from transformers import FunnelTokenizer

    specials = ["<pad>", "<unk>", "<cls>", "<sep>", "<mask>", "<s>", "</s>"]
    return FunnelTokenizer(vocab=_uncased_wordpiece(specials), model_max_length=128)


def tok_roberta():
    from transformers import RobertaTokenizer

    vocab, merges = _bpe_vocab(["<s>", "<pad>", "</s>", "<unk>"], ["<mask>"])
    return RobertaTokenizer(vocab=vocab, merges=merges, mask_token=_lstrip("<mask>"), model_max_length=128)


def tok_deberta():
    from transformers import DebertaTokenizer

    vocab, merges = _bpe_vocab(["[PAD]", "[CLS]", "[SEP]", "[UNK]"], ["[MASK]"])
    return DebertaTokenizer(vocab=vocab, merges=merges, mask_token=_lstrip("[MASK]"), model_max_length=128)


def tok_modernbert():
    """ModernBERT ships a plain tokenizer.json (byte-level BPE, [CLS] ... [SEP], an lstrip [MASK])."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab, merges = _bpe_vocab(["[UNK]", "[CLS]", "[SEP]", "[PAD]"], ["[MASK]"])
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                                   pad_token="[PAD]", mask_token=_lstrip("[MASK]"), model_max_length=128)


def tok_xlmr():
    from transformers import XLMRobertaTokenizer

    return XLMRobertaTokenizer(vocab=_unigram(["<s>", "<pad>", "</s>", "<unk>"], ["<mask>"]),
                               mask_token=_lstrip("<mask>"), model_max_length=128)


def tok_camembert():
    from transformers import CamembertTokenizer

    return CamembertTokenizer(vocab=_unigram(["<s>NOTUSED", "<pad>", "</s>NOTUSED", "<unk>", "<s>", "</s>"], ["<mask>"]),
                              model_max_length=128)


def tok_albert():
    from transformers import AlbertTokenizer

    return AlbertTokenizer(vocab=_unigram(["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]), mask_token=_lstrip("[MASK]"),
                           model_max_length=128)


def tok_deberta_v2():
    from transformers import DebertaV2Tokenizer

    return DebertaV2Tokenizer(vocab=_unigram(["[PAD]", "[CLS]", "[SEP]", "[UNK]"], ["[MASK]"]), model_max_length=128)


def tok_bigbird():
    from transformers import BigBirdTokenizer

    return BigBirdTokenizer(vocab=_unigram(["<pad>", "<s>", "</s>", "<unk>", "[MASK]", "[CLS]", "[SEP]"]),
                            model_max_length=128)


def tok_t5():
    from transformers import T5Tokenizer

    return T5Tokenizer(vocab=_unigram(["<pad>", "</s>", "<unk>"]), extra_ids=20, model_max_length=128)


def tok_mbart():
    from transformers import MBartTokenizer

    return MBartTokenizer(vocab=_unigram(["<s>", "<pad>", "</s>", "<unk>"]), model_max_length=128)


def tok_bart():
    from transformers import BartTokenizer

    vocab, merges = _bpe_vocab(["<s>", "<pad>", "</s>", "<unk>"], ["<mask>"])
    return BartTokenizer(vocab=vocab, merges=merges, mask_token=_lstrip("<mask>"), model_max_length=128)


def tok_byt5():
    from transformers import ByT5Tokenizer

    return ByT5Tokenizer(extra_ids=20, model_max_length=128)


# ---------------------------------------------------------------------------------------------
# Configs: 2 layers, hidden 32, the family's special-token ids


def _ids(tok) -> dict:
    return {"pad_token_id": tok.pad_token_id, "vocab_size": len(tok)}


def _roberta_like(cls, tok, **kw):
    return cls(**SIZE, **_ids(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
               max_position_embeddings=130, **kw)   # positions are offset by pad + 1: 128 tokens


def cfg_bert(tok):
    from transformers import BertConfig

    return BertConfig(**SIZE, **_ids(tok), max_position_embeddings=128)


def cfg_megatron(tok):
    from transformers import MegatronBertConfig

    return MegatronBertConfig(**SIZE, **_ids(tok), max_position_embeddings=128)


def cfg_distilbert(tok):
    from transformers import DistilBertConfig

    return DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=128, **_ids(tok))


def cfg_electra(tok):
    from transformers import ElectraConfig

    return ElectraConfig(embedding_size=16, **SIZE, **_ids(tok), max_position_embeddings=128)


def cfg_albert(tok):
    from transformers import AlbertConfig

    return AlbertConfig(embedding_size=16, **SIZE, **_ids(tok), max_position_embeddings=128)


def cfg_mpnet(tok):
    from transformers import MPNetConfig

    return _roberta_like(MPNetConfig, tok)


def cfg_funnel(tok):
    from transformers import FunnelConfig

    # two blocks of one layer each (the second pools the sequence), one decoder layer back to full length
    return FunnelConfig(block_sizes=[1, 1], num_decoder_layers=1, d_model=32, n_head=2, d_head=16, d_inner=64,
                        **_ids(tok))


def cfg_roberta(tok):
    from transformers import RobertaConfig

    return _roberta_like(RobertaConfig, tok)


def cfg_xlmr(tok):
    from transformers import XLMRobertaConfig

    return _roberta_like(XLMRobertaConfig, tok)


def cfg_camembert(tok):
    from transformers import CamembertConfig

    return _roberta_like(CamembertConfig, tok)


def cfg_longformer(tok):
    from transformers import LongformerConfig

    return _roberta_like(LongformerConfig, tok, attention_window=[4, 4], sep_token_id=tok.sep_token_id)


def cfg_deberta(tok):
    from transformers import DebertaConfig

    return DebertaConfig(**SIZE, **_ids(tok), max_position_embeddings=128, relative_attention=True,
                         pos_att_type=["c2p", "p2c"])


def cfg_deberta_v2(tok):
    from transformers import DebertaV2Config

    return DebertaV2Config(**SIZE, **_ids(tok), max_position_embeddings=128, relative_attention=True,
                           pos_att_type=["p2c", "c2p"], position_buckets=32, max_relative_positions=-1,
                           norm_rel_ebd="layer_norm", share_att_key=True, position_biased_input=False)


def cfg_modernbert(tok):
    from transformers import ModernBertConfig

    return ModernBertConfig(**SIZE, vocab_size=len(tok), max_position_embeddings=128, local_attention=8,
                            global_attn_every_n_layers=2, pad_token_id=tok.pad_token_id, bos_token_id=tok.cls_token_id,
                            cls_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id, sep_token_id=tok.sep_token_id)


def cfg_bigbird(tok):
    from transformers import BigBirdConfig

    # block_sparse as the real checkpoints; short inputs (< (5 + 2*1) * 4 = 28 tokens) run full attention
    return BigBirdConfig(**SIZE, **_ids(tok), max_position_embeddings=128, attention_type="block_sparse",
                         block_size=4, num_random_blocks=1, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, sep_token_id=tok.sep_token_id)


def _t5_like(cls, tok):
    return cls(vocab_size=len(tok), d_model=32, d_ff=64, d_kv=16, num_layers=2, num_decoder_layers=2, num_heads=2,
               decoder_start_token_id=tok.pad_token_id, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)


def cfg_t5(tok):
    from transformers import T5Config

    return _t5_like(T5Config, tok)


def cfg_mt5(tok):
    from transformers import MT5Config

    return _t5_like(MT5Config, tok)


def _bart_like(cls, tok, **kw):
    return cls(vocab_size=len(tok), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
               decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
               pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
               decoder_start_token_id=tok.eos_token_id, forced_bos_token_id=tok.bos_token_id, **kw)


def cfg_bart(tok):
    from transformers import BartConfig

    return _bart_like(BartConfig, tok)


def cfg_mbart(tok):
    from transformers import MBartConfig

    return _bart_like(MBartConfig, tok, forced_eos_token_id=tok.eos_token_id)


# ---------------------------------------------------------------------------------------------
# The families


@dataclass(frozen=True)
class Family:
    name: str                         # the matrix row
    kind: str                         # "mlm" | "seq2seq"
    style: str                        # core.load.hf.tokenizer_style of the tokenizer
    tokenizer: Callable
    config: Callable
    hub: tuple[str, ...] = ()         # the real hub names this tiny model stands for
    cased: bool = True
    notes: dict = field(default_factory=dict)


FAMILIES: dict[str, Family] = {f.name: f for f in [
    Family("BERT (uncased)", "mlm", "wordpiece", tok_bert_uncased, cfg_bert,
           ("google-bert/bert-base-uncased",), cased=False),
    Family("BERT (cased)", "mlm", "wordpiece", tok_bert_cased, cfg_bert, ("google-bert/bert-base-cased",)),
    Family("DistilBERT", "mlm", "wordpiece", tok_distilbert, cfg_distilbert,
           ("distilbert/distilbert-base-uncased",), cased=False),
    Family("RoBERTa", "mlm", "byte-level BPE", tok_roberta, cfg_roberta, ("FacebookAI/roberta-base",)),
    Family("XLM-RoBERTa", "mlm", "sentencepiece", tok_xlmr, cfg_xlmr, ("FacebookAI/xlm-roberta-base",)),
    Family("CamemBERT", "mlm", "sentencepiece", tok_camembert, cfg_camembert, ("almanach/camembert-base",)),
    Family("ALBERT", "mlm", "sentencepiece", tok_albert, cfg_albert, ("albert/albert-base-v2",), cased=False),
    Family("ELECTRA", "mlm", "wordpiece", tok_bert_uncased, cfg_electra,
           ("google/electra-base-generator",), cased=False),
    Family("DeBERTa", "mlm", "byte-level BPE", tok_deberta, cfg_deberta, ("microsoft/deberta-base",)),
    Family("DeBERTa-v2", "mlm", "sentencepiece", tok_deberta_v2, cfg_deberta_v2,
           ("microsoft/deberta-v3-base", "microsoft/deberta-v2-xlarge")),
    Family("ModernBERT", "mlm", "byte-level BPE", tok_modernbert, cfg_modernbert, ("answerdotai/ModernBERT-base",)),
    Family("MPNet", "mlm", "wordpiece", tok_mpnet, cfg_mpnet, ("microsoft/mpnet-base",), cased=False),
    Family("Megatron-BERT", "mlm", "wordpiece", tok_bert_cased, cfg_megatron, ("nvidia/megatron-bert-cased-345m",)),
    Family("BigBird", "mlm", "sentencepiece", tok_bigbird, cfg_bigbird, ("google/bigbird-roberta-base",)),
    Family("Longformer", "mlm", "byte-level BPE", tok_roberta, cfg_longformer, ("allenai/longformer-base-4096",)),
    Family("Funnel", "mlm", "wordpiece", tok_funnel, cfg_funnel, ("funnel-transformer/small",), cased=False),
    Family("T5", "seq2seq", "sentencepiece", tok_t5, cfg_t5, ("google-t5/t5-small", "google/flan-t5-base")),
    Family("mT5", "seq2seq", "sentencepiece", tok_t5, cfg_mt5, ("google/mt5-small",)),
    Family("ByT5", "seq2seq", "bytes", tok_byt5, cfg_t5, ("google/byt5-small",)),
    Family("BART", "seq2seq", "byte-level BPE", tok_bart, cfg_bart, ("facebook/bart-base",)),
    Family("mBART", "seq2seq", "sentencepiece", tok_mbart, cfg_mbart, ("facebook/mbart-large-cc25",)),
]}
ENCODERS = [f.name for f in FAMILIES.values() if f.kind == "mlm"]
SEQ2SEQ = [f.name for f in FAMILIES.values() if f.kind == "seq2seq"]


def build(name: str, out_dir: Path, *, seed: int = 0) -> Path:
    """The family's tiny random model and tokenizer, saved with save_pretrained (safetensors)."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoModelForSeq2SeqLM

    family = FAMILIES[name]
    tok = family.tokenizer()
    config = family.config(tok)
    torch.manual_seed(seed)
    auto = AutoModelForMaskedLM if family.kind == "mlm" else AutoModelForSeq2SeqLM
    model = auto.from_config(config).eval()
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")

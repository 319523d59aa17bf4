import os

import pytest

# Tests never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    from tiny import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory):
    from tiny import build_tiny_t5

    return build_tiny_t5(tmp_path_factory.mktemp("tiny-t5"))


# Loaded models, one per test module (a test may switch attention implementations or freeze
# parameters; the core restores them, and a fresh load per module keeps a slip contained).
@pytest.fixture(scope="module")
def tiny_lm(tiny_bert_dir):
    from mlm_explorer.core.load.models import load_mlm

    return load_mlm(str(tiny_bert_dir), device="cpu")


@pytest.fixture(scope="module")
def bundled_lm():
    from mlm_explorer.core.load.models import load_mlm

    return load_mlm(None, device="cpu")


@pytest.fixture(scope="session")
def tiny_bart_dir(tmp_path_factory):
    from tiny import build_tiny_bart

    return build_tiny_bart(tmp_path_factory.mktemp("tiny-bart"))

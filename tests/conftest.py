import os

import pytest

# Tests never touch the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Under pytest-xdist (make test: two workers on a machine of a few cores), one torch thread per
# worker: workers of two spinning threads each on two cores run slower than one thread each.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


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


# The family matrix (tests/families.py): each family's tiny model is built once per session, on demand.
@pytest.fixture(scope="session")
def family_dir(tmp_path_factory):
    from families import build, slug

    built: dict = {}

    def get(name: str, seed: int = 0):
        if (name, seed) not in built:
            built[name, seed] = build(name, tmp_path_factory.mktemp(f"family-{slug(name)}-{seed}"), seed=seed)
        return built[name, seed]

    return get


@pytest.fixture(scope="session")
def family_lm(family_dir):
    """Loaded family models (the same object for every test of a session: the core restores what it changes)."""
    from families import FAMILIES

    from mlm_explorer.core.load.models import load_mlm, load_seq2seq

    loaded: dict = {}

    def get(name: str, seed: int = 0):
        if (name, seed) not in loaded:
            load = load_mlm if FAMILIES[name].kind == "mlm" else load_seq2seq
            loaded[name, seed] = load(str(family_dir(name, seed)), device="cpu")
        return loaded[name, seed]

    return get


@pytest.fixture(scope="session")
def matrix():
    """Records every cell of tests/test_families.py; writes docs/families.json after a full run."""
    from family_matrix import Matrix

    m = Matrix()
    yield m
    m.write()


# The longest test files first: under `make test`'s workers (--dist loadfile --no-loadscope-reorder)
# a long file started last runs alone at the end while the other workers idle.
LONGEST_FIRST = ("test_app_tmux.py", "test_bundled_infiller.py", "test_app_stress.py", "test_cli_bad_input.py",
                 "test_train_ranks.py", "test_train_faults.py", "test_app_train.py", "test_train_process.py",
                 "test_app_train_preview.py", "test_cli.py", "test_families.py", "test_train_job.py",
                 "test_app_train_loop.py", "test_cli_options.py", "test_cli_joint_pll_audit.py", "test_app_probes.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order

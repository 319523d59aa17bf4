"""Layers: core imports neither textual nor rich; the app's and the CLI's entry points do not
import torch before they must (harlequin's test_import_hygiene, in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "mlm_explorer.core.mask.text", "mlm_explorer.core.mask.masking", "mlm_explorer.core.mask.spans",
    "mlm_explorer.core.load.sources", "mlm_explorer.core.load.models", "mlm_explorer.core.load.catalog", "mlm_explorer.core.infer.fill", "mlm_explorer.core.infer.infill",
    "mlm_explorer.core.mask.preview", "mlm_explorer.core.load.bundled",
    "mlm_explorer.core.explain.probes", "mlm_explorer.core.infer.diff",
    "mlm_explorer.core.infer.candidates", "mlm_explorer.core.infer.score",
    "mlm_explorer.core.explain.attention", "mlm_explorer.core.explain.saliency",
    "mlm_explorer.core.load.hf", "mlm_explorer.core.infer.forward", "mlm_explorer.core.mask.decision",
    "mlm_explorer.core.infer.kbest", "mlm_explorer.core.infer.compare",
    "mlm_explorer.core.mask.audit", "mlm_explorer.core.mask.audit_reference",
    "mlm_explorer.core.explain.forgetting",
]


def loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_core_imports_neither_textual_nor_rich():
    modules = loaded_after("\n".join(f"import {m}" for m in CORE_MODULES))
    assert all(m in modules for m in CORE_MODULES)
    leaked = sorted(m for m in modules if m.split(".")[0] in {"textual", "rich"})
    assert leaked == []


def test_training_job_core_imports_neither_textual_nor_rich():
    modules = loaded_after("import mlm_explorer.train.launch, mlm_explorer.train.config")
    assert not any(m.split(".")[0] in {"textual", "rich"} for m in modules)


def test_app_module_does_not_import_torch():
    modules = loaded_after("import mlm_explorer.ui.app")
    assert "torch" not in modules and "transformers" not in modules


def test_decision_codes_and_the_hf_glue_import_no_torch():
    modules = loaded_after("import mlm_explorer.core.mask.decision, mlm_explorer.core.load.hf, mlm_explorer.core.infer.forward")
    assert "torch" not in modules and "transformers" not in modules


def test_the_exports_need_no_torch_nor_rich():
    """report/ renders the HTML / SVG exports from plain dicts (the CLI and the app both use it)."""
    modules = loaded_after("import mlm_explorer.report.html, mlm_explorer.report.svg, mlm_explorer.report.views")
    assert not any(m.split(".")[0] in {"torch", "transformers", "textual", "rich"} for m in modules)

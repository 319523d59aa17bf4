"""At 80x24 every screen's footer shows how to get around: F1 Help and F2-F4 (issue 19)."""

from __future__ import annotations

import pytest
from app_support import app_env, make_app, settle, sync, wait_ready  # noqa: F401

pytestmark = pytest.mark.timeout(120)


@sync
async def test_f_keys_fit_the_footer_at_80_columns(app_env, tiny_bert_dir):
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    app = make_app(tiny_bert_dir, text="The [MASK] dog walks.")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        for mode in ("explore", "compare", "train"):
            await app.switch_mode(mode)
            await settle(pilot)
            footer = app.screen.query_one(Footer)
            shown = {key.key: key.region for key in footer.query(FooterKey)}
            for key in ("f1", "f2", "f3", "f4"):
                region = shown.get(key)
                assert region is not None and region.width > 0, f"{mode}: {key} not in the footer"
                assert region.right <= 80, f"{mode}: {key} cut off at 80 columns ({region})"

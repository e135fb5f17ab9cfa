"""The Monitor at 80×24 and with an idle queue (issue 14, points 7 and 8): every footer key is
whole on screen, the help keeps the rest, and a history whose maximum is 0 draws a flat line."""

from __future__ import annotations

from textual.widgets import Footer, Sparkline

from tests.tui.test_monitor_snapshots import SERIES, _polls, make_app, snapshot_at
from yunpipe_tui.screens.help import binding_rows


async def test_footer_fits_80_columns_and_help_keeps_every_key() -> None:
    app = make_app(SERIES[:1])
    async with app.run_test(size=(80, 24)) as pilot:
        await _polls(pilot, 1)
        footer = app.screen.query_one(Footer)
        keys = list(footer.query("FooterKey"))
        assert keys and all(k.region.right <= 80 for k in keys), [
            (k.description, k.region) for k in keys
        ]
        described = {d for _, d in binding_rows(app.screen)}
        for action in ("Upload", "Terminate", "Pause", "Refresh"):
            assert any(action in d for d in described), described
        assert any("interval" in d for d in described)


async def test_a_history_of_zeros_draws_no_bar() -> None:
    app = make_app([snapshot_at(i, 0, 0) for i in range(3)])
    async with app.run_test(size=(100, 32)) as pilot:
        await _polls(pilot, 3)
        graph = app.screen.query_one("#history", Sparkline)
        await pilot.pause()
        drawn = "".join(graph.render_line(y).text for y in range(graph.size.height))
        assert "█" not in drawn, drawn


async def test_a_single_zero_poll_draws_no_bar() -> None:
    app = make_app([snapshot_at(0, 0, 0)])
    async with app.run_test(size=(100, 32)) as pilot:
        await _polls(pilot, 1)
        graph = app.screen.query_one("#history", Sparkline)
        await pilot.pause()
        drawn = "".join(graph.render_line(y).text for y in range(graph.size.height))
        assert "█" not in drawn, drawn

"""`flask --app run clues states` prints the transition table, every row of it."""

from __future__ import annotations

from clues.states import TRANSITIONS


def test_the_cli_prints_every_row_of_the_table(runner):
    result = runner.invoke(args=["clues", "states"])
    assert result.exit_code == 0, result.output
    header, *rows = result.output.splitlines()
    assert header.split() == ["当前状态", "操作", "角色", "新状态"]
    assert len(rows) == len(TRANSITIONS)
    for (status, action, actor), target in TRANSITIONS.items():
        assert any(
            row.startswith(f"{status.value}（{status.label}）")
            and f"{action.value}（{action.label}）" in row
            and f" {actor.value} " in row
            and row.rstrip().endswith(f"{target.value}（{target.label}）")
            for row in rows
        ), (status, action, actor)

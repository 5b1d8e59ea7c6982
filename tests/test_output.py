"""anshin_ops/output.py: files appear whole or not at all."""

import pytest

from anshin_ops import output


def test_a_failure_while_drawing_leaves_nothing(tmp_path):
    (tmp_path / "old.md").write_text("kept", encoding="utf-8")
    with pytest.raises(RuntimeError), output.drawing(str(tmp_path)) as (scratch, written):
        output.write_text(f"{scratch}/report.md", "half")
        raise RuntimeError("chart failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.md"] and written == []


def test_drawn_files_move_into_place(tmp_path):
    with output.drawing(str(tmp_path / "out")) as (scratch, written):
        output.write_yaml(f"{scratch}/a.yml", {"名前": "値"})
    assert written == [str(tmp_path / "out" / "a.yml")]
    assert (tmp_path / "out" / "a.yml").read_text(encoding="utf-8") == "名前: 値\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.yml"]


def test_markdown_cells_cannot_break_the_table():
    assert output.markdown_table(["a", "b"], [["x|y", "line\nbreak"]]) == "| a | b |\n|---|---|\n| x\\|y | line break |"

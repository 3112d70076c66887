"""One number formatter and one table value, drawn the same way in every format."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from rich.console import Console

from dnn_lab.direction import Direction
from dnn_lab.render import tables
from dnn_lab.render.formatting import number, show_value


@pytest.mark.parametrize(
    ("value", "style", "text"),
    [
        (None, "metric", "-"),
        (0.98061, "metric", "0.9806"),
        (0.0, "metric", "0.0000"),
        (0.00012345, "metric", "0.000123"),
        (123456.7, "metric", "1.23e+05"),
        (7, "metric", "7"),
        (math.nan, "metric", "nan"),
        (-math.inf, "short", "-inf"),
        (0.04321, "short", "0.043"),
        (50610, "count", "50,610"),
        (5.2e-9, "scientific", "5.20e-09"),
        (0.25, "share", "25%"),
        (True, "metric", "True"),
        ([300, 100], "metric", "[300,100]"),
        ("relu", "metric", "relu"),
    ],
)
def test_number(value, style, text):
    assert number(value, style) == text


def test_show_value_reads_like_the_yaml():
    assert show_value({"name": "sgd", "momentum": 0.9}) == "sgd(momentum=0.9)"
    assert show_value(0.001) == "0.001" and show_value(None) == "-"


def table() -> tables.Table:
    return tables.Table(
        columns=[
            tables.Column(key="run", title="run"),
            tables.Column(key="acc", title="best acc", style="metric", best=Direction.MAX),
            tables.Column(key="params", title="params", style="count"),
            tables.Column(key="path", title="path", drawn=False),
        ],
        rows=[
            {"run": "a", "acc": 0.9, "params": 1210, "path": "runs/a"},
            {"run": "b|c", "acc": 0.95, "params": None, "path": "runs/b"},
        ],
        header={"sort": "acc"},
    )


def test_one_table_in_every_format():
    console = Console(file=io.StringIO(), width=100, color_system=None)
    tables.render_table(table(), console)
    lines = [line.rstrip() for line in console.file.getvalue().splitlines()]
    assert lines[1:5] == [
        "         best",  # a title breaks at its first space
        " run      acc   params",
        " " + "─" * 21,
        " a     0.9000    1,210",
    ]
    assert tables.render_markdown(table()).splitlines() == [
        "| run | best acc | params |",
        "| --- | ---: | ---: |",
        "| a | 0.9000 | 1,210 |",
        "| b\\|c | **0.9500** | - |",
    ]
    exported = json.loads(tables.render_json(table()))
    assert exported["sort"] == "acc" and exported["runs"][1] == {
        "run": "b|c",
        "acc": 0.95,
        "params": None,
        "path": "runs/b",
    }
    rows = list(csv.DictReader(io.StringIO(tables.render_csv(table()))))
    assert rows[1] == {"run": "b|c", "acc": "0.95", "params": "", "path": "runs/b"}

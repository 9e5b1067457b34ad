"""``callhopper simulate``: a short day through the real engine on a temporary database,
its report and its chart."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from callhopper.cli import app


def test_simulate_prints_the_day_and_writes_its_chart(tmp_path: Path) -> None:
    chart = tmp_path / "day.html"
    args = ["simulate", "--agents", "3", "--records", "200", "--hours", "0.1"]
    result = CliRunner().invoke(app, [*args, "--answer-rate", "0.3", "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    for line in ("dials", "answered by a person", "abandon rate", "occupancy",
                 "talk minutes per agent-hour", "mean agent wait"):  # fmt: skip
        assert line in result.output
    dials = int(result.output.split("dials")[1].split()[0])
    assert dials > 5
    page = chart.read_text()
    assert page.count("<svg") == 3 and "http" not in page  # self-contained: no CDN


def test_simulate_refuses_a_mode_that_does_not_dial_by_itself(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--mode", "preview", "--hours", "0.1"])
    assert result.exit_code != 0 and "predictive or progressive" in result.output

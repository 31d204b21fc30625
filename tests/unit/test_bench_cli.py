"""`dash bench` refuses at once what it could only fail on at the end of a long run."""

from __future__ import annotations

import importlib.util

import pytest

from cluster.bench import cli


def test_missing_plotting_library_is_refused_before_the_run(monkeypatch, capsys) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else find_spec(name, *a)
    )

    def no_run(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(cli, "run", no_run)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--profile", "smoke"])
    assert exc.value.code == 2
    assert "--no-plots, or install the bench extra" in capsys.readouterr().err

"""The command line: demo runs, errors end with status 2 and one line."""

from __future__ import annotations

import subprocess
import sys

import chainrule as cr
from chainrule.cli import main


def test_demo_trains_and_reports_accuracy(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the demo may write its reports into the working folder
    assert main(["demo", "--epochs", "200"]) == 0
    out = capsys.readouterr().out
    assert "accuracy 100%" in out
    losses = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("epoch")]
    assert losses[-1] < losses[0] / 10


def test_module_entry_point_and_version():
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and cr.__version__ in done.stdout


def test_usage_error_is_one_line_with_status_2():
    done = subprocess.run(
        [sys.executable, "-m", "chainrule", "frobnicate"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "invalid choice: 'frobnicate'" in done.stderr

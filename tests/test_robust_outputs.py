"""Nothing overwritten, nothing lost: the promises of the command line about its files.

- No command writes over one of its inputs or over another of its outputs, however the
  two paths are spelled (checked before any work, exit 2, one line naming both).
- An existing model replaced by ``train`` is reported as replaced.
- A reader that goes away (a closed pipe) silences the output, never the work.
- A divergence is reported once.
- Every ``--help`` page has a description, help for every option with its default, and
  examples that the real parser accepts (the cheap ones are run end to end here).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule._cli_files import FileRoles
from chainrule.cli import build_parser, main

# Every command's file arguments, as placeholders; a command that reads or writes a file
# must be listed here (test_every_file_argument_is_declared checks it).
TEMPLATES: dict[str, list[str]] = {
    "demo": ["demo", "--out-dir", "{out_dir}"],
    "train": [
        "train",
        "{data}",
        "--target",
        "y",
        "--out",
        "{out}",
        "--plot",
        "{plot}",
        "--checkpoint-dir",
        "{checkpoint_dir}",
    ],
    "predict": ["predict", "{model}", "{data}", "--out", "{out}"],
    "evaluate": ["evaluate", "{model}", "{data}"],
    "summary": ["summary", "{model}"],
    "explain": ["explain", "--model", "{model}", "--csv", "{csv}", "--out", "{out}"],
    "vanishing": ["vanishing", "--out", "{out}"],
    "animate": ["animate", "--out", "{out}"],
    "export": ["export", "{model}", "--out", "{out}"],
    "studio": ["studio", "--csv", "{csv}", "--target", "y"],
}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def _roles(command: str) -> FileRoles:
    roles = _subparsers(build_parser())[command].get_default("file_roles")
    assert isinstance(roles, FileRoles), f"{command} declares no file arguments"
    return roles


def test_every_file_argument_is_declared():
    writes_files = {"out", "out_dir", "plot", "checkpoint_dir"}
    reads_files = {"data", "model", "csv"}
    for name, sub in _subparsers(build_parser()).items():
        roles = _roles(name)
        inputs = {role.dest for role in roles.inputs}
        outputs = {role.dest for role in roles.outputs}
        dests = {action.dest for action in sub._actions}
        assert outputs == dests & writes_files, name
        assert inputs == dests & reads_files, name
        placeholders = {part[1:-1] for part in TEMPLATES[name] if part.startswith("{")}
        assert placeholders == inputs | outputs, name


SPELLINGS = ["plain", "dot", "parent", "absolute", "linked folder", "symlink", "hard link"]


def _clash_cases() -> list[tuple[str, str, str, str, bool]]:
    """(command, the file's first argument, the output naming it again, spelling, exists)."""
    cases = []
    for command in TEMPLATES:
        roles = _roles(command)
        earlier = [(role.dest, True) for role in roles.inputs]
        for role in roles.outputs:
            for first, is_input in earlier:
                for how in SPELLINGS:
                    # Inputs exist; a hard link needs an existing file.
                    for exists in [True] if is_input or how == "hard link" else [True, False]:
                        cases.append((command, first, role.dest, how, exists))
            earlier.append((role.dest, False))
    return cases


def _spell(name: str, how: str, folder_role: bool, workdir: Path) -> str:
    """``name`` in ``workdir``, or for a folder argument the folder holding it, spelled ``how``."""
    target = workdir / name
    if folder_role:
        spelled = {
            "plain": ".",
            "dot": "./",
            "parent": f"../{workdir.name}",
            "absolute": str(workdir),
            "linked folder": "linked",
        }
        if how in spelled:
            if how == "linked folder":
                (workdir / "linked").symlink_to(workdir, target_is_directory=True)
            return spelled[how]
        holder = workdir / f"{how.replace(' ', '-')}-dir"
        holder.mkdir()
        if how == "symlink":
            (holder / name).symlink_to(target)
        else:
            os.link(target, holder / name)
        return holder.name
    if how == "plain":
        return name
    if how == "dot":
        return f"./{name}"
    if how == "parent":
        return f"../{workdir.name}/{name}"
    if how == "absolute":
        return str(target)
    if how == "linked folder":
        (workdir / "linked").symlink_to(workdir, target_is_directory=True)
        return f"linked/{name}"
    link = workdir / f"{how.replace(' ', '-')}-{name}"
    if how == "symlink":
        link.symlink_to(target)
    else:
        os.link(target, link)
    return link.name


def _snapshot(root: Path) -> dict[str, bytes | None]:
    return {
        str(path.relative_to(root)): (
            path.read_bytes() if path.is_file() and not path.is_symlink() else None
        )
        for path in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize(("command", "first", "second", "how", "exists"), _clash_cases())
def test_an_output_that_is_an_input_or_another_output_is_refused(
    tmp_path, monkeypatch, capsys, command, first, second, how, exists
):
    roles = _roles(command)
    folders = {role.dest: role.inside for role in roles.outputs if role.inside}
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    # Inside a folder argument the command writes fixed names: the clashing file has one.
    name = next((folders[dest][0] for dest in (first, second) if dest in folders), "shared.file")
    if exists:
        (workdir / name).write_bytes(b"precious bytes\n" * 4)
    values = {}
    for index, role in enumerate([*roles.inputs, *roles.outputs]):
        other = workdir / f"other-{index}"
        if role in roles.inputs:
            other.write_bytes(b"another input\n")
        elif role.inside:
            other.mkdir()
        values[role.dest] = other.name
    values[first] = "." if first in folders else name
    spelled = _spell(name, how, second in folders, workdir)
    values[second] = spelled
    argv = [part.format(**values) for part in TEMPLATES[command]]
    before = _snapshot(tmp_path)

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"{values[first]}" in err and f"{spelled}" in err, err
    assert "is the same file as" in err
    assert _snapshot(tmp_path) == before  # nothing written, changed or created


def test_a_demo_folder_whose_files_are_linked_together_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "softmax-classifier.html").write_text("kept")
    os.link(folder / "softmax-classifier.html", folder / "house-prices.html")
    assert main(["demo", "--epochs", "1", "--out-dir", "reports"]) == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1
    assert "house-prices.html" in captured.err and "softmax-classifier.html" in captured.err
    assert captured.out == ""  # refused before any work
    assert sorted(p.name for p in folder.iterdir()) == [
        "house-prices.html",
        "softmax-classifier.html",
    ]


def test_everyday_commands_that_would_overwrite_their_input_are_refused(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    _houses(tmp_path / "data.csv")
    assert main(["train", "data.csv", "--target", "price", "--epochs", "2", "--quiet"]) == 0
    capsys.readouterr()
    before = _snapshot(tmp_path)
    for argv in (
        ["train", "data.csv", "--target", "price", "--out", "data.csv"],
        ["predict", "model.safetensors", "data.csv", "--out", "model.safetensors"],
        ["predict", "model.safetensors", "data.csv", "--out", "./data.csv"],
        [
            "train",
            "data.csv",
            "--target",
            "price",
            "--out",
            "m.safetensors",
            "--plot",
            "m.safetensors",
        ],
        ["explain", "--model", "model.safetensors", "--csv", "data.csv", "--out", "data.csv"],
    ):
        assert main(argv) == 2, argv
        assert "is the same file as" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before


# -- replacing a model is said ------------------------------------------------------------
def _houses(path: Path, rows: int = 40, seed: int = 0, with_price: bool = True) -> None:
    rng = np.random.default_rng(seed)
    area = rng.uniform(50, 200, rows)
    rooms = rng.integers(1, 6, rows)
    price = 1000 * area + 5000 * rooms + rng.normal(0, 1000, rows)
    header = "area,rooms,price" if with_price else "area,rooms"
    lines = [
        f"{a:.1f},{r},{p:.0f}" if with_price else f"{a:.1f},{r}"
        for a, r, p in zip(area, rooms, price, strict=True)
    ]
    path.write_text("\n".join([header, *lines]) + "\n")


def test_train_says_when_it_replaces_a_model(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _houses(tmp_path / "houses.csv")
    argv = ["train", "houses.csv", "--target", "price", "--epochs", "2", "--quiet"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("saved model.safetensors (")
    assert main([*argv, "--out", "./model.safetensors"]) == 0
    assert capsys.readouterr().out.startswith("replaced ./model.safetensors (")
    assert main([*argv, "--out", "other.safetensors"]) == 0
    assert capsys.readouterr().out.startswith("saved other.safetensors (")


# -- a closed pipe silences the output, never the work -------------------------------------
def _closed_pipe() -> int:
    """The writing end of a pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    return write_end


def _chainrule(argv: list[str], cwd: Path, **streams: int) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONWARNINGS": "error::ResourceWarning"}
    return subprocess.run(
        [sys.executable, "-m", "chainrule", *argv],
        cwd=cwd,
        env=env,
        timeout=300,
        **{name: streams.get(name, subprocess.PIPE) for name in ("stdout", "stderr")},
    )


@pytest.mark.parametrize("closed", [("stdout",), ("stderr",), ("stdout", "stderr")])
def test_training_finishes_and_saves_when_its_output_pipe_is_closed(tmp_path, closed):
    _houses(tmp_path / "houses.csv")
    pipe = _closed_pipe()
    try:
        done = _chainrule(
            ["train", "houses.csv", "--target", "price", "--epochs", "20"],
            tmp_path,
            **dict.fromkeys(closed, pipe),
        )
    finally:
        os.close(pipe)
    assert done.returncode == 0
    for name in ("stdout", "stderr"):
        if name not in closed:  # nothing about the pipe, and no traceback, on the other
            text = getattr(done, name).decode()
            assert "Broken pipe" not in text and "Traceback" not in text, text
    model = cr.load(tmp_path / "model.safetensors")
    assert isinstance(model, cr.nn.Sequential)


def test_training_piped_into_a_reader_that_stops_after_one_line(tmp_path):
    """``chainrule train ... | head -1``."""
    _houses(tmp_path / "houses.csv")
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "train", "houses.csv", "--target", "price"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline()  # the first line came; then the reader goes away
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=300) == 0, err
    assert err == ""
    cr.load(tmp_path / "model.safetensors")


def test_predict_into_a_closed_pipe_ends_quietly(tmp_path):
    _houses(tmp_path / "houses.csv", rows=3000)
    assert (
        main(
            [
                "train",
                str(tmp_path / "houses.csv"),
                "--target",
                "price",
                "--epochs",
                "1",
                "--quiet",
                "--out",
                str(tmp_path / "model.safetensors"),
            ]
        )
        == 0
    )
    pipe = _closed_pipe()
    try:
        done = _chainrule(["predict", "model.safetensors", "houses.csv"], tmp_path, stdout=pipe)
    finally:
        os.close(pipe)
    assert done.returncode == 0
    assert done.stderr == b""


def test_a_failure_with_both_pipes_closed_still_exits_2(tmp_path):
    pipe = _closed_pipe()
    try:
        done = _chainrule(["summary", "missing.safetensors"], tmp_path, stdout=pipe, stderr=pipe)
    finally:
        os.close(pipe)
    assert done.returncode == 2


# -- a divergence is reported once -------------------------------------------------------
@pytest.mark.parametrize("extra", [[], ["--quiet"], ["--checkpoint-dir", "run"]])
def test_a_divergence_is_reported_once(tmp_path, monkeypatch, capsys, extra):
    monkeypatch.chdir(tmp_path)
    _houses(tmp_path / "houses.csv")
    argv = ["train", "houses.csv", "--target", "price", "--optimizer", "sgd", "--lr", "1e30"]
    assert main([*argv, "--epochs", "3", *extra]) == 2
    captured = capsys.readouterr()
    assert "became" not in captured.out
    assert len(captured.err.strip().splitlines()) == 1
    assert "training failed: the loss became" in captured.err
    assert captured.err.count("became") == 1
    assert "no model was saved" in captured.err
    assert not (tmp_path / "model.safetensors").exists()


def test_resuming_a_run_that_had_diverged_reports_it_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _houses(tmp_path / "houses.csv")
    argv = ["train", "houses.csv", "--target", "price", "--optimizer", "sgd", "--lr", "1e30"]
    argv += ["--epochs", "3", "--checkpoint-dir", "run"]
    assert main(argv) == 2
    capsys.readouterr()
    # The checkpoint holds the divergence: resuming ends at once, with the same one line.
    assert main([*argv, "--resume"]) == 2
    captured = capsys.readouterr()
    assert "became" not in captured.out
    assert len(captured.err.strip().splitlines()) == 1
    assert "training failed: the loss became" in captured.err
    assert not (tmp_path / "model.safetensors").exists()


def test_fit_can_raise_the_divergence_instead_of_printing_it(capsys):
    from chainrule.train import TrainingDivergedError

    X = np.array([[1.0], [2.0]])
    model = cr.nn.Sequential(cr.nn.Linear(1, 1, rng=0))
    with pytest.raises(TrainingDivergedError, match="training stopped in epoch 1: the loss"):
        cr.fit(
            model,
            X * 1e30,
            X * 1e30,
            loss="mse",
            optimizer="sgd",
            epochs=2,
            verbose=1,
            nan_guard="raise",
        )
    assert "became" not in capsys.readouterr().out
    assert all(np.isfinite(p.data).all() for p in model.parameters())


# -- --help ------------------------------------------------------------------------------
def _parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return {"chainrule": parser, **_subparsers(parser)}


def _examples(parser: argparse.ArgumentParser) -> list[str]:
    epilog = parser.epilog or ""
    assert epilog.startswith("examples:\n"), parser.prog
    lines = [line.strip() for line in epilog.splitlines()[1:]]
    return [line for line in lines[: lines.index("")] if line] if "" in lines else lines


def _default_text(default: object) -> str:
    if isinstance(default, list):
        return ",".join(map(str, default))
    return str(default)


@pytest.mark.parametrize("name", list(_parsers()))
def test_every_help_page_describes_the_command_its_options_and_examples(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    parser = _parsers()[name]
    assert parser.description and "``" not in parser.description, name
    assert parser.description[0].isupper() and parser.description.endswith("."), name
    assert 1 <= len(_examples(parser)) <= 3, name
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        assert action.help and action.help is not argparse.SUPPRESS, (name, action.dest)
        default = action.default
        if default is not None and default is not False and default is not argparse.SUPPRESS:
            assert "default" in action.help, (name, action.dest)
            assert _default_text(default) in action.help, (name, action.dest, default)
    page = parser.format_help()
    assert "examples:\n  chainrule" in page
    assert max(map(len, page.splitlines())) <= 100, name


@pytest.mark.parametrize("name", list(_parsers()))
def test_every_example_parses_with_the_real_parser(name):
    for line in _examples(_parsers()[name]):
        words = shlex.split(line)
        assert words[0] == "chainrule"
        if name != "chainrule":
            assert words[1] == name, line
        args = build_parser().parse_args(words[1:])  # raises SystemExit if it does not parse
        assert callable(args.run)


def test_the_examples_of_the_data_commands_run_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _houses(tmp_path / "houses.csv", seed=0)
    _houses(tmp_path / "test-houses.csv", seed=1)
    _houses(tmp_path / "new-houses.csv", seed=2, with_price=False)
    parsers = _parsers()
    for name in ("train", "predict", "evaluate", "summary", "explain", "vanishing", "export"):
        for line in _examples(parsers[name]):
            if "--out vanishing.png" in line:
                continue  # drawing the chart is tested with the charts
            argv = shlex.split(line)[1:]
            if name == "train":
                argv += ["--epochs", "3"]  # the last --epochs wins: keep it quick
            assert main(argv) == 0, (line, capsys.readouterr().err)
    assert (tmp_path / "predictions.csv").read_text().startswith("price\n")
    assert (tmp_path / "curves.png").exists() and (tmp_path / "run").is_dir()
    assert (tmp_path / "model.onnx").exists() and (tmp_path / "houses.onnx").exists()


def test_explain_reads_the_target_from_the_model_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _houses(tmp_path / "houses.csv")
    assert main(["train", "houses.csv", "--target", "price", "--epochs", "2", "--quiet"]) == 0
    capsys.readouterr()
    base = ["explain", "--model", "model.safetensors", "--csv", "houses.csv", "--row", "3"]
    assert main(base) == 0
    implied = capsys.readouterr().out
    assert main([*base, "--target", "price"]) == 0
    assert capsys.readouterr().out == implied
    # A model file without a target name still asks for --target, in one line.
    cr.save(cr.nn.Sequential(cr.nn.Linear(2, 1)), tmp_path / "bare.safetensors")
    assert main(["explain", "--model", "bare.safetensors", "--csv", "houses.csv"]) == 2
    err = capsys.readouterr().err
    assert "pass --target COLUMN" in err and len(err.strip().splitlines()) == 1


def test_demo_ends_by_naming_the_file_to_open_first(tmp_path, monkeypatch, capsys):
    import chainrule.cli as cli

    written: list[Path] = []

    def write(out_dir: str) -> list[Path]:  # the reports themselves are tested elsewhere
        folder = Path(out_dir)
        folder.mkdir()
        for name in cli.DEMO_FILES:
            (folder / name).write_text("")
            written.append(folder / name)
        return written

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "write_demo_outputs", write)
    assert main(["demo", "--epochs", "2", "--out-dir", "reports"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("start here: open reports/house-prices.html")
    assert Path("reports/house-prices.html") in written

"""The ``explain``, ``vanishing``, ``animate`` and ``demo`` commands."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_explain_example_prints_text(capsys):
    code, out, err = run(capsys, "explain", "softmax-classifier")
    assert code == 0 and err == ""
    assert "Softmax with cross-entropy: dE/dZ2 two ways" in out
    assert max(len(line) for line in out.splitlines()) <= 100


def test_explain_example_to_html_file(capsys, tmp_path):
    target = tmp_path / "houses.html"
    code, out, _ = run(
        capsys, "explain", "house-prices", "--out", str(target), "--weight", "Who[2,0]"
    )
    assert code == 0 and str(target) in out
    page = target.read_text(encoding="utf-8")
    assert 'id="one-weight-who-2-0-from-h1-unit-2-to-z2-unit-0"' in page and "<math" in page
    assert "One weight: " in page


def test_explain_network_from_the_command_line(capsys):
    code, out, _ = run(
        capsys,
        "explain",
        "--layers",
        "2,3,2",
        "--hidden",
        "sigmoid",
        "--output",
        "softmax",
        "--loss",
        "cross-entropy",
        "--x",
        "0.5,0.1",
        "--y",
        "1",
        "--lr",
        "0.02",
        "--seed",
        "0",
        "--format",
        "markdown",
    )
    assert code == 0
    assert out.startswith("# One training step, explained")
    assert "learning rate lr = 0.02" in out


def test_explain_network_regression_with_shared_bias(capsys):
    code, out, _ = run(
        capsys,
        "explain",
        "--layers",
        "3,4,1",
        "--hidden",
        "tanh",
        "--loss",
        "half-sse",
        "--bias",
        "shared",
        "--x",
        "1,2,3;0,1,0",
        "--y",
        "0.5;0.2",
    )
    assert code == 0
    assert "E = 1/2 * sum((O - Y)^2)" in out and "layer 1 shared bias" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["explain"], "exactly one of"),
        (["explain", "house-prices", "--layers", "2,2"], "exactly one of"),
        (["explain", "--layers", "2,3,2", "--x", "0.5", "--y", "1"], "--x has 1 values"),
        (["explain", "--layers", "2,3,2", "--x", "0.5,0.1", "--y", "2"], "from 0 to 1"),
        (["explain", "--layers", "2,3,2", "--x", "0.5,0.1"], "needs --x"),
        (["explain", "--layers", "2,x"], "--layers"),
        (["explain", "house-prices", "--weight", "Foo[0,0]"], "no parameter named 'Foo'"),
        (["explain", "house-prices", "--weight", "Who[7,0]"], "out of range"),
        (
            ["explain", "--model", "missing.safetensors", "--csv", "x.csv", "--target", "y"],
            "missing",
        ),
        (["vanishing", "--depth", "1"], "--depth"),
        (["animate", "--out", "x.png"], ".gif"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exit_info:  # argparse refuses the value itself
        code = exit_info.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no partial output


def test_out_folder_must_exist(capsys, tmp_path):
    code, _, err = run(capsys, "explain", "house-prices", "--out", str(tmp_path / "no" / "r.html"))
    assert code == 2 and "does not exist" in err


def test_explain_saved_model_on_a_csv_row(capsys, tmp_path):
    import chainrule as cr
    from chainrule.data import Standardizer
    from chainrule.io import Preprocessing

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 3))
    y = rng.normal(size=5)
    csv = tmp_path / "data.csv"
    lines = ["a,b,c,price"] + [",".join(f"{v:.3f}" for v in (*row, t)) for row, t in zip(X, y)]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = cr.nn.Sequential(cr.nn.Linear(3, 2, rng=1), cr.nn.Sigmoid(), cr.nn.Linear(2, 1, rng=2))
    prep = Preprocessing(
        feature_names=["a", "b", "c"],
        target_name="price",
        task="regression",
        scaler=Standardizer().fit(X),
    )
    cr.save(model, tmp_path / "model.safetensors", preprocessing=prep)
    code, out, err = run(
        capsys,
        "explain",
        "--model",
        str(tmp_path / "model.safetensors"),
        "--csv",
        str(csv),
        "--row",
        "3",
        "--target",
        "price",
    )
    assert code == 0, err
    assert "Loss: MSELoss" in out and "dE/dWho" in out
    code, _, err = run(
        capsys,
        "explain",
        "--model",
        str(tmp_path / "model.safetensors"),
        "--csv",
        str(csv),
        "--row",
        "9",
        "--target",
        "price",
    )
    assert code == 2 and "--row 9" in err


def test_vanishing_prints_the_table_and_draws(capsys, tmp_path):
    chart = tmp_path / "flow.png"
    code, out, _ = run(capsys, "vanishing", "--depth", "4", "--width", "6", "--out", str(chart))
    assert code == 0
    assert "Sigmoid" in out and "LeakyReLU" in out and chart.stat().st_size > 1000


def test_animate_writes_a_gif(capsys, tmp_path):
    from PIL import Image

    gif = tmp_path / "descent.gif"
    code, out, _ = run(
        capsys, "animate", "house-prices", "--out", str(gif), "--epochs", "6", "--frames", "3"
    )
    assert code == 0 and str(gif) in out
    with Image.open(gif) as image:
        assert image.n_frames == 3


def test_demo_writes_reports_pictures_and_animation(capsys, tmp_path):
    out_dir = tmp_path / "out"
    code, out, _ = run(capsys, "demo", "--epochs", "20", "--out-dir", str(out_dir))
    assert code == 0
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == [
        "house-prices-descent.gif",
        "house-prices-graph.svg",
        "house-prices.html",
        "softmax-classifier-graph.svg",
        "softmax-classifier.html",
        "vanishing-gradients.png",
    ]
    for name in names:
        assert str(out_dir / name) in out

"""The fast CSV readers against the careful one: same arrays, same messages.

``read_csv`` first tries a fast reader (pandas' C parser, or NumPy without pandas) and
hands any file it cannot vouch for to the careful reader, which reads every cell as text.
These tests generate files of every kind and check that whichever reader answers, the
answer is the careful reader's, with pandas and without it.
"""

from __future__ import annotations

import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import chainrule.data._csv_fast as csv_fast
import chainrule.data._csv_file as csv_file
import chainrule.data.csv as csv_module
from chainrule.data import read_csv
from chainrule.data._csv_fast import FastReadError, Layout, read_numbers
from chainrule.data._csv_numbers import PLAIN, not_plain, to_numbers
from csv_engines import ENGINES, csv_engine

CELLS = st.one_of(
    st.floats(-1e6, 1e6).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(
        ["", " ", "NA", "nan", "inf", "-Infinity", "True", "false", "1_000", "0x10", "1e",
         ".", "+.5", "5.", "1e400", "-0", " 7 ", '"3"', '"4,5"', "1,5", "١", "\u00a01",
         "abc", "yes", "12k", "1.2.3", "+81E96"]
    ),  # fmt: skip
    st.text(alphabet='0123456789.eE+- ",;\t|é\r\n', max_size=5),
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def csv_texts(draw: st.DrawFn) -> tuple[bytes, str | None]:
    width = draw(st.integers(1, 4))
    names = [f"c{j}" for j in range(width)]
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    plain = draw(st.booleans())  # mostly clean numbers, or anything
    cell = st.floats(-1e6, 1e6).map(repr) if plain else CELLS
    rows = [
        [draw(cell) for _ in range(width + draw(st.sampled_from([0, 0, 0, 0, -1, 1])))]
        for _ in range(draw(st.integers(0, 6)))
    ]
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [sep.join(names)] + [sep.join(row) for row in rows]
    blank = draw(st.integers(0, len(lines)))
    if draw(st.booleans()):
        lines.insert(blank, draw(st.sampled_from(["", "  ", sep * (width - 1)])))
    data = (end.join(lines) + end).encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    target = draw(st.sampled_from([None, "c0", f"c{width - 1}"]))
    return data, target


def _outcome(path: Path, target: str | None, reader: str) -> tuple[str, object]:
    """What reading gives: ("data", arrays) or ("error", message)."""
    try:
        if reader == "careful":
            data = csv_module._read_careful(path, target, None, None, (), "", 2**20)
        else:
            data = read_csv(path, target=target)
    except ValueError as error:
        return "error", str(error)
    y = None if data.y is None else data.y.tolist()
    return "data", (data.X.tolist(), y, data.feature_names)


#: Pieces of text where quotes open, close, double and hold line ends.
QUOTE_PIECES = ['"', '""', "0", "1.5", "a", " ", "\n", "\r\n", "\r"]


@st.composite
def quoted_texts(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """Files whose rows are quotes, numbers, delimiters and line ends in any order:
    quotes left open, quotes at the ends of rows, line ends inside quotes."""
    width = draw(st.integers(1, 3))
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    names = [draw(st.sampled_from([f"c{j}", f'"c{j}"'])) for j in range(width)]
    body = draw(st.lists(st.sampled_from([*QUOTE_PIECES, sep]), max_size=16))
    text = sep.join(names) + "\n" + "".join(body) + draw(st.sampled_from(["", "\n"]))
    target = draw(st.sampled_from([None, "c0", f"c{width - 1}"]))
    return text.encode("utf-8"), target


#: Bytes of the file's head the fast reader looks at before parsing: all of a small
#: file, or a few lines, so that its guess of the rows is too small or too large.
HEADS = st.sampled_from([csv_file.BLOCK_BYTES, 24, 64])


def _assert_every_reader_agrees(data: bytes, target: str | None, head: int) -> None:
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_file, "BLOCK_BYTES", head)
        path = Path(folder) / "table.csv"
        path.write_bytes(data)
        outcomes = {}
        for engine in ENGINES:
            with csv_engine(engine):
                outcomes[engine] = _outcome(path, target, "fast")
                outcomes[f"{engine} careful"] = _outcome(path, target, "careful")
    first = outcomes["pandas careful"]
    for name, outcome in outcomes.items():
        assert outcome == first, (name, outcome, first)


@SETTINGS
@given(file=csv_texts(), head=HEADS)
@example(file=(b'c0\n0.0\n"\n"0,"\n', None), head=2**20)  # a quote never closed
def test_fast_readers_answer_as_the_careful_reader(file, head):
    _assert_every_reader_agrees(*file, head)


@SETTINGS
@given(file=quoted_texts(), head=HEADS)
@example(file=(b'c0,c1\n"a"b,"1\n2,3\n', None), head=2**20)  # a long row in the open quote
@example(file=(b'c0\n1,2\n"\n', None), head=2**20)  # a long row ends before the open quote
@example(file=(b'c0\n"1\r\n\r\n2"\n"\n', "c0"), head=2**20)  # quoted line ends are no rows
@example(file=(b'c0\n"1"""\n', None), head=2**20)  # a doubled quote before the closing one
@example(file=(b'c0\n"1""\n', None), head=2**20)  # a doubled quote, then none to close
def test_every_reader_splits_quotes_as_pandas_does(file, head):
    _assert_every_reader_agrees(*file, head)


#: Bytes that are not UTF-8: a Latin-1 letter, a byte never used, a character cut short,
#: an encoded surrogate, an overlong encoding.
NOT_UTF8 = [b"\xe9", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\x80"]


@SETTINGS
@given(file=csv_texts(), bad=st.sampled_from(NOT_UTF8), where=st.floats(0, 1), head=HEADS)
@example(file=(b"c0,c1\n1,2\n3,4\n", "c1"), bad=b"\xc3", where=1.0, head=24)  # cut at the end
def test_bytes_that_are_not_utf8_are_named_by_every_reader(file, bad, where, head):
    # With a small head, the bad bytes lie beyond the part of the file checked before
    # parsing: the parsing itself must find them.
    data, target = file
    cut = round(where * len(data))
    _assert_every_reader_agrees(data[:cut] + bad + data[cut:], target, head)


@st.composite
def clean_tables(draw: st.DrawFn) -> tuple[str, np.ndarray, list[str]]:
    """A clean file, as text, with its X and labels: rows as short as a file can hold
    (one character a cell, an empty column left out) or longer, in any order."""
    features = draw(st.integers(1, 3))
    cell = st.sampled_from(["0", "7", "-1.5", "123456.789"])
    pattern = st.lists(st.lists(cell, min_size=features, max_size=features), min_size=1)
    rows = draw(pattern) * draw(st.integers(1, 100))  # enough rows for the header not to count
    labels = [draw(st.sampled_from(["a", "b"])) for _ in rows]
    names = [f"f{j}" for j in range(features)] + ["label", "note"]
    lines = [",".join(names)] + [",".join([*row, label, ""]) for row, label in zip(rows, labels)]
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(lines) + draw(st.sampled_from(["", end]))
    X = np.array([[float(value) for value in row] for row in rows])
    return text, X, labels


def _refuse(*args: object) -> None:
    """Stands in for the careful reader where a clean file must never reach it."""
    raise AssertionError("the careful reader read a clean file")


@SETTINGS
@given(table=clean_tables(), head=HEADS, engine=st.sampled_from(ENGINES))
def test_clean_files_of_any_rows_are_read_fast(table, head, engine):
    # The room made for the rows is guessed from the head and bounded by the file's
    # size; neither may make the fast reader give a clean file up.
    text, X, labels = table

    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(csv_file, "BLOCK_BYTES", head)
        patch.setattr(csv_module, "_read_careful", _refuse)
        path = Path(folder) / "clean.csv"
        path.write_text(text, newline="")
        with csv_engine(engine):
            data = read_csv(path, target="label", ignore=["note"])
    np.testing.assert_array_equal(data.X, X)
    assert data.y is not None and data.y.tolist() == labels
    assert data.X.base is None and data.X.flags.owndata  # trimmed, not a view of more


@pytest.mark.parametrize("engine", ENGINES)
def test_clean_files_never_reach_the_careful_reader(tmp_path, monkeypatch, engine):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4))
    path = tmp_path / "clean.csv"
    rows = "\n".join(",".join(repr(float(v)) for v in row) + ",no" for row in X)
    path.write_text("a,b,c,d,label\n" + rows + "\n")

    monkeypatch.setattr(csv_module, "_read_careful", _refuse)
    with csv_engine(engine):
        data = read_csv(path, target="label")
        numeric = read_csv(path, ignore=["label"])
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(numeric.X, X)
    assert data.y is not None and data.y.tolist() == ["no"] * 500


@settings(max_examples=300, deadline=None)
@given(cell=CELLS)
def test_numbers_are_read_as_pandas_reads_them(cell):
    pd = pytest.importorskip("pandas")
    cell = cell.strip()
    ours = to_numbers(np.array([cell], dtype=object))[0]
    with csv_engine("numpy"):
        without_pandas = to_numbers(np.array([cell], dtype=object))[0]
    theirs = pd.to_numeric(pd.Series([cell], dtype=object), errors="coerce").iloc[0]
    assert np.isnan(ours) == np.isnan(theirs), (cell, ours, theirs)
    if not np.isnan(theirs):
        assert ours == pytest.approx(float(theirs), rel=1e-15)
    assert ours == without_pandas or (np.isnan(ours) and np.isnan(without_pandas))


#: Cells where the rules for numbers could part: the characters of numbers in any order,
#: with blanks around, numbers with many digits, and the cells of the files above.
NUMBERISH = st.one_of(
    st.text(alphabet=PLAIN + " \t", max_size=8),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(width=64).map(lambda value: f"{value:.30g}"),
    CELLS.filter(lambda cell: not set(cell) & set(',"\r\n')),
)


def _fast_row(cells: list[str], engine: str) -> np.ndarray | None:
    """The fast reader's numbers for one row of ``cells``; None where it gives up."""
    with tempfile.TemporaryDirectory() as folder, csv_engine(engine):
        path = Path(folder) / "row.csv"
        path.write_text(",".join(f"c{j}" for j in range(len(cells))) + "\n" + ",".join(cells))
        layout = Layout(
            start=0, sep=",", width=len(cells), features=list(range(len(cells))), target=None,
            rows=1, most_rows=1, end=path.stat().st_size,
        )  # fmt: skip
        try:
            return read_numbers(path, layout)[0][0]
        except FastReadError:
            return None


@SETTINGS
@given(cells=st.lists(NUMBERISH, min_size=1, max_size=4))
def test_the_fast_readers_take_numbers_as_the_careful_reader_does(cells):
    careful = to_numbers(np.array([cell.strip() for cell in cells], dtype=object))
    plain = not_plain().search(" ".join(cells)) is None
    # The rule the readers without pandas share: the same cells taken, the same bits
    # read (0.0 and -0.0 differ, as they may in a model's input). Conversion takes
    # infinite numbers too; the reader refuses them after.
    try:  # the csv module's cells
        converted = csv_fast._floats(cells)
    except (FastReadError, ValueError):
        converted = None
    read = _fast_row(cells, "numpy")  # loadtxt's, where every cell is plain
    for fast, takes in (
        (converted, plain and not np.isnan(careful).any()),
        (read, plain and np.isfinite(careful).all()),
    ):
        assert (fast is not None) == takes, (cells, fast, careful)
        if fast is not None:
            assert fast.view(np.int64).tolist() == careful.view(np.int64).tolist()
    # pandas decides for itself, but what it takes it reads as the careful reader does
    # (its integers lose the sign of "-0"; past 64 bits they are text, left to the
    # careful reader).
    fast = _fast_row(cells, "pandas")
    if fast is not None:
        assert fast.tolist() == careful.tolist(), (cells, fast, careful)


def test_not_fast_is_internal():
    assert not issubclass(FastReadError, ValueError)  # never mistaken for a message to show


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("target", ["y", None])
def test_reading_holds_little_more_than_the_array(tmp_path, engine, target):
    # The careful reader holds every cell as a Python string, about 12 times the file;
    # the fast ones the array (0.85 times this file) and one chunk or block of lines.
    rng = np.random.default_rng(1)
    path = tmp_path / "big.csv"
    rows = "\n".join(",".join(f"{v:.6f}" for v in row) for row in rng.normal(size=(60_000, 5)))
    path.write_text("a,b,c,d,y\n" + rows + "\n")
    with csv_engine(engine):
        read_csv(path, target=target)  # the first reading imports what it needs
        tracemalloc.start()
        try:
            data = read_csv(path, target=target)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert data.X.shape == (60_000, 4 if target else 5)
    assert peak < 2.0 * path.stat().st_size, peak / path.stat().st_size


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_a_byte_that_is_not_utf8_is_named_with_its_line(tmp_path, engine, bom):
    path = tmp_path / "latin1.csv"
    path.write_bytes(bom + "a,b\n1,2\n3,é\n".encode("latin-1"))
    with csv_engine(engine), pytest.raises(ValueError, match=r"byte 0xe9 on line 3\)"):
        read_csv(path)

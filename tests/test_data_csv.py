"""Tests for chainrule.data.read_csv: round trips and one test per error message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from chainrule.data import Dataset, read_csv
from csv_engines import engine  # noqa: F401  (a fixture: both CSV readers)

# Every test here runs with pandas' parser and with the NumPy-only one.
pytestmark = pytest.mark.usefixtures("engine")


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- reading valid files -------------------------------------------------------------


def test_reads_features_and_numeric_target(tmp_path: Path) -> None:
    path = write(tmp_path, "size,rooms,price\n1.2,3,0.4\n0.8,2,0.3\n2.0,5,0.9\n")

    data = read_csv(path, target="price")

    np.testing.assert_array_equal(data.X, [[1.2, 3.0], [0.8, 2.0], [2.0, 5.0]])
    assert data.X.dtype == np.float64
    np.testing.assert_array_equal(data.y, [0.4, 0.3, 0.9])
    assert data.feature_names == ["size", "rooms"]
    assert data.target_name == "price"


def test_target_column_may_sit_anywhere(tmp_path: Path) -> None:
    path = write(tmp_path, "label,a,b\n1,10,20\n0,30,40\n")

    data = read_csv(path, target="label")

    np.testing.assert_array_equal(data.X, [[10, 20], [30, 40]])
    np.testing.assert_array_equal(data.y, [1, 0])
    assert data.feature_names == ["a", "b"]


def test_without_target_every_column_is_a_feature(tmp_path: Path) -> None:
    data = read_csv(write(tmp_path, "a,b\n1,2\n3,4\n"))

    assert data.y is None and data.target_name is None
    assert data.X.shape == (2, 2)


def test_text_labels_are_returned_as_written(tmp_path: Path) -> None:
    path = write(tmp_path, "x1,x2,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n")

    data = read_csv(path, target="species")

    assert data.y is not None
    assert data.y.dtype.kind == "U"
    assert data.y.tolist() == ["setosa", "virginica", "setosa"]


def test_dataset_unpacks_into_features_and_target(tmp_path: Path) -> None:
    X, y = read_csv(write(tmp_path, "a,t\n1,0\n2,1\n"), target="t")

    np.testing.assert_array_equal(X, [[1.0], [2.0]])
    np.testing.assert_array_equal(y, [0.0, 1.0])


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_delimiter_is_detected_from_the_header(tmp_path: Path, sep: str) -> None:
    path = write(tmp_path, f"a{sep}b{sep}c\n1{sep}2{sep}3\n")

    data = read_csv(path, target="c")

    np.testing.assert_array_equal(data.X, [[1.0, 2.0]])
    assert data.feature_names == ["a", "b"]


def test_space_separated_columns_with_regex_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path, "a   b  c\n1   2  3\n4   5  6\n")

    data = read_csv(path, delimiter=r"\s+")

    np.testing.assert_array_equal(data.X, [[1, 2, 3], [4, 5, 6]])


def test_byte_order_mark_blank_lines_and_spaces_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeff a , b \n\n 1 , 2 \r\n\n3,4\n\n".encode())

    data = read_csv(path)

    assert data.feature_names == ["a", "b"]
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4]])


def test_expected_feature_names_reorder_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "b,a,y\n2,1,0\n4,3,1\n")

    data = read_csv(path, target="y", feature_names=["a", "b"])

    assert data.feature_names == ["a", "b"]
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4]])


@settings(max_examples=25, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 4)),
        elements=st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False),
    )
)
def test_round_trip_keeps_every_value(
    tmp_path_factory: pytest.TempPathFactory, X: np.ndarray
) -> None:
    header = ",".join(f"f{j}" for j in range(X.shape[1]))
    rows = [",".join(repr(float(v)) for v in row) for row in X]
    path = tmp_path_factory.mktemp("rt") / "x.csv"
    path.write_text("\n".join([header, *rows]) + "\n")

    data = read_csv(path)

    np.testing.assert_array_equal(data.X, X)
    assert data.feature_names == [f"f{j}" for j in range(X.shape[1])]


# --- errors ------------------------------------------------------------------------


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no such file: .*nope\.csv"):
        read_csv(tmp_path / "nope.csv")


def test_directory_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a directory"):
        read_csv(tmp_path)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(ValueError, match="the file is empty"):
        read_csv(write(tmp_path, text))


def test_header_without_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"has a header \(a, b\) but no data rows"):
        read_csv(write(tmp_path, "a,b\n\n"))


def test_missing_target_lists_available_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "size,rooms,price\n1,2,3\n")

    with pytest.raises(
        ValueError,
        match=r"'cost' not found; available columns: "
        r"'size', 'rooms', 'price'",
    ):
        read_csv(path, target="cost")
    with pytest.raises(ValueError, match=r"did you mean 'price'\?"):
        read_csv(path, target="prize")


def test_numeric_header_suggests_the_header_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is the header line missing"):
        read_csv(write(tmp_path, "1,2,3\n4,5,6\n"), target="y")


def test_duplicated_headers(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"duplicated column name\(s\) 'a'"):
        read_csv(write(tmp_path, "a,b,a\n1,2,3\n"))


def test_empty_header_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="column 2 has no name"):
        read_csv(write(tmp_path, "a,,c\n1,2,3\n"))


def test_non_numeric_cell_names_row_line_column_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,y\n1,2,0\n3,4,1\n5,abc,0\n")

    with pytest.raises(
        ValueError,
        match=r"non-numeric value 'abc' in column 'b', row 3 \(line 4 of the file\)",
    ):
        read_csv(path, target="y")


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "\na,b\n1,2\n\n3,x\n")

    with pytest.raises(ValueError, match=r"'x' in column 'b', row 2 \(line 5 of the file\)"):
        read_csv(path)


def test_text_feature_column_suggests_it_may_be_the_target(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"pass target='kind'"):
        read_csv(write(tmp_path, "x,kind\n1,cat\n2,dog\n"))


def test_decimal_comma_gets_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'1,5' .* write it as 1\.5 \(with a decimal point"):
        read_csv(write(tmp_path, "a;b\n1,5;2\n"))


@pytest.mark.parametrize("cell", ["", "NA", "nan"])
def test_missing_cell_names_row_and_column(tmp_path: Path, cell: str) -> None:
    path = write(tmp_path, f"a,b\n1,2\n3,{cell}\n")

    with pytest.raises(ValueError, match=r"missing value .*column 'b', row 2 \(line 3"):
        read_csv(path)


def test_short_row_is_a_missing_cell(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"missing value .*column 'c', row 1 \(line 2"):
        read_csv(write(tmp_path, "a,b,c\n1,2\n"))


def test_long_row_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="line 4 has 3 cells but the header has 2"):
        read_csv(write(tmp_path, "\na,b\n1,2\n3,4,5\n"))


def test_a_cell_of_any_length_is_named(tmp_path: Path) -> None:
    # Longer than the 131,072 characters Python's csv module takes by default.
    cell = "x" * 200_000
    with pytest.raises(ValueError, match=f"non-numeric value '{cell}' in column 'b', row 1"):
        read_csv(write(tmp_path, f"a,b\n1,{cell}\n"))


@pytest.mark.parametrize("cell", ["inf", "-inf", "Infinity"])
def test_infinite_feature(tmp_path: Path, cell: str) -> None:
    path = write(tmp_path, f"a,b\n1,{cell}\n")

    with pytest.raises(ValueError, match=r"infinite value .* column 'b', row 1 \(line 2"):
        read_csv(path)


def test_infinite_or_missing_target(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"infinite target value 'inf' in column 'y', row 2"):
        read_csv(write(tmp_path, "a,y\n1,0\n2,inf\n"), target="y")
    with pytest.raises(ValueError, match=r"missing target value in column 'y', row 1"):
        read_csv(write(tmp_path, "a,y\n1,\n2,1\n"), target="y")


def test_target_mixing_numbers_and_text(tmp_path: Path) -> None:
    path = write(tmp_path, "a,y\n1,0.5\n2,0.7\n3,12k\n")

    with pytest.raises(ValueError, match=r"mixes numbers and text: row 3 \(line 4 .*'12k'"):
        read_csv(path, target="y")


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("città,b\n1,2\n3,é\n".encode("latin-1"))

    with pytest.raises(ValueError, match=r"not valid UTF-8 \(byte 0xe0 on line 1\)"):
        read_csv(path)


def test_wrong_delimiter_reads_one_column(tmp_path: Path) -> None:
    path = write(tmp_path, "a;b;c\n1;2;3\n")

    with pytest.raises(
        ValueError,
        match=r"single column .*delimiter is likely wrong: "
        r"pass delimiter=';'",
    ):
        read_csv(path, delimiter=",")


def test_space_separated_file_suggests_whitespace_delimiter(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"single column .*delimiter=r\"\\s\+\""):
        read_csv(write(tmp_path, "a b c\n1 2 3\n"))


def test_single_real_column_is_fine(tmp_path: Path) -> None:
    data = read_csv(write(tmp_path, "height\n1.5\n1.8\n"))

    assert data.X.shape == (2, 1)


def test_only_target_column(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no feature columns left"):
        read_csv(write(tmp_path, "y\n1\n"), target="y")


def test_expected_features_mismatch_names_expected_and_actual(tmp_path: Path) -> None:
    path = write(tmp_path, "a,c,y\n1,2,3\n")

    with pytest.raises(
        ValueError,
        match=r"expected 2 feature columns \['a', 'b'\], found 2: "
        r"\['a', 'c'\] \(missing 'b'; unexpected 'c'\)",
    ):
        read_csv(path, target="y", feature_names=["a", "b"])


def test_expected_features_hint_when_target_column_is_present(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b,y\n1,2,3\n")

    with pytest.raises(ValueError, match=r"found 3.*unexpected 'y'.*pass target="):
        read_csv(path, feature_names=["a", "b"])


def test_dataset_checks_its_shapes() -> None:
    with pytest.raises(ValueError, match="2 feature columns but 1 feature names"):
        Dataset(np.zeros((3, 2)), None, ["a"])
    with pytest.raises(ValueError, match=r"Dataset.y must have shape \(3,\)"):
        Dataset(np.zeros((3, 2)), np.zeros(2), ["a", "b"], "t")


def test_csv_columns_reads_the_header_with_read_csvs_checks(tmp_path: Path) -> None:
    from chainrule.data import csv_columns

    # A text column is no problem here: the target is chosen after the columns are known.
    assert csv_columns(write(tmp_path, "size;rooms;kind\n1;2;flat\n")) == ["size", "rooms", "kind"]
    for text, message in [
        ("", "the file is empty"),
        ("a,b,a\n1,2,3\n", r"duplicated column name\(s\) 'a'"),
        ("a,,c\n1,2,3\n", "column 2 has no name"),
    ]:
        with pytest.raises(ValueError, match=message):
            csv_columns(write(tmp_path, text))

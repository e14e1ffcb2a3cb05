"""Fuzzing the model-file loaders: on mutated valid files only ``ModelFileError`` escapes.

The harness and its mutations live in ``tests/fuzz_model_files.py``. Here hypothesis
draws mutations (bit flips, truncations, insertions, deletions, header lengths, edits
of the JSON header and of the chainrule document) and shrinks any failure to a small
one; a short fuzzing session of the harness itself runs too (coverage-guided with
atheris when it is installed). ``make stress`` and ``make fuzz`` run longer sessions.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_model_files as fuzz

HARNESS = Path(__file__).with_name("fuzz_model_files.py")
ATHERIS = importlib.util.find_spec("atheris") is not None

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(fuzz.NASTY_VALUES),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
POSITIONS = st.integers(0, 4095)
MUTATIONS = st.one_of(
    st.tuples(st.just("flip"), POSITIONS, st.integers(0, 7)),
    st.tuples(st.just("truncate"), POSITIONS),
    st.tuples(st.just("insert"), POSITIONS, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), POSITIONS, st.integers(1, 64)),
    st.tuples(st.just("length"), st.integers(0, 2**64 - 1)),
    st.tuples(
        st.sampled_from(["header", "document", "document"]),
        st.integers(0, 255),
        JSON_VALUES,
        st.sampled_from(["set", "set", "delete", "wrap"]),
    ),
)


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> tuple[list[bytes], fuzz.Target]:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "seeds").mkdir()
    (folder / "target").mkdir()
    return fuzz.seed_files(folder / "seeds"), fuzz.Target(folder / "target")


def _check_mutations(harness, seed: int, mutations: list[tuple]) -> None:
    seeds, target = harness
    data = seeds[seed]
    for mutation in mutations:
        data = fuzz.mutate(data, mutation)
    target(data)  # raises if anything but a one-line ModelFileError escapes


def test_the_seed_files_load(harness):
    seeds, target = harness
    assert len(seeds) == 3
    for data in seeds:
        target(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2), mutations=st.lists(MUTATIONS, min_size=1, max_size=3))
def test_mutated_model_files_raise_only_model_file_error(harness, seed, mutations):
    _check_mutations(harness, seed, mutations)


@pytest.mark.stress
@settings(max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2), mutations=st.lists(MUTATIONS, min_size=1, max_size=4))
def test_many_mutated_model_files_raise_only_model_file_error(harness, seed, mutations):
    _check_mutations(harness, seed, mutations)


def _fuzz(tmp_path: Path, *flags: str) -> str:
    """Run the harness in a subprocess (libFuzzer ends its process); return its output."""
    done = subprocess.run(
        [sys.executable, str(HARNESS), *flags],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        timeout=900,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


def test_a_short_fuzzing_session_finds_nothing(tmp_path):
    output = _fuzz(tmp_path, "-runs=2000", "-seed=1")
    assert "Done 2000 runs" in output
    assert ("atheris is not installed" in output) != ATHERIS


@pytest.mark.stress
def test_a_long_fuzzing_session_finds_nothing(tmp_path):
    assert "Done" in _fuzz(tmp_path, "-max_total_time=120", "-seed=2")

"""Benchmark 13: reading a CSV file of numbers, time and peak memory.

``chainrule.data.read_csv`` against ``pandas.read_csv`` and ``numpy.loadtxt`` on files of
10 numeric columns (9 features and a target) written to a temporary folder at bench
time: 300,000 rows (about 28 MB) and 2,000,000 rows (about 190 MB). Time is CPU time
(``time.process_time``), the contestants taking turns; memory is each reader's peak in
a fresh process of its own: the rise of the maximum resident set size over the size
before reading (what the machine had to give, C allocations included), and the peak
that ``tracemalloc`` saw (Python and NumPy allocations only).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from racing import race

HERE = Path(__file__).resolve().parent
COLUMNS = 10

#: The parent reads with this child: ``python csv_reading.py READER PATH`` prints one
#: JSON line of peak memory in bytes.
_CHILD = "--child"


def write_table(path: Path, rows: int, seed: int = 0) -> int:
    """A CSV file of ``rows`` rows of 10 numbers with 6 decimals; returns its size."""
    rng = np.random.default_rng(seed)
    block = min(rows, 100_000)
    lines = [",".join(f"f{j}" for j in range(COLUMNS - 1)) + ",y\n"]
    values = rng.normal(size=(block, COLUMNS))
    text = "\n".join(",".join(f"{v:.6f}" for v in row) for row in values.tolist()) + "\n"
    with path.open("w", encoding="ascii") as handle:
        handle.write(lines[0])
        for start in range(0, rows, block):
            count = min(block, rows - start)
            handle.write(text if count == block else "".join(text.splitlines(True)[:count]))
    return path.stat().st_size


def readers(path: Path) -> dict[str, Callable[[], object] | None]:
    """Each contestant, reading the whole file into a float array (None: not installed)."""
    from chainrule.data import read_csv

    def chainrule() -> object:
        return read_csv(path, target="y").X

    def numpy() -> object:
        return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)

    contestants: dict[str, Callable[[], object] | None] = {
        "chainrule": chainrule,
        "pandas": None,
        "numpy.loadtxt": numpy,
    }
    try:
        import pandas as pd
    except ImportError:
        return contestants

    def pandas() -> object:
        return pd.read_csv(path).to_numpy()

    contestants["pandas"] = pandas
    return contestants


def peak_memory(reader: str, path: Path) -> dict[str, int] | None:
    """Peak memory of one reading by ``reader`` in a fresh process (None: not installed)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), _CHILD, reader, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _status(field: str) -> int:
    """A size in bytes from /proc/self/status (VmRSS: resident now, VmHWM: its peak)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _child(reader: str, path: Path) -> None:
    import tracemalloc

    run = readers(path)[reader]
    if run is None:
        raise SystemExit(1)
    # Imports are done and nothing is read: from here the peak is the reader's. Writing
    # 5 to clear_refs restarts the kernel's count of the peak (VmHWM) from the present.
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before = _status("VmRSS")
    tracemalloc.start()
    result = run()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak = _status("VmHWM")
    del result
    print(json.dumps({"rss": peak - before, "traced": traced}))


def bench_csv(repeats: int, sizes: tuple[int, ...], loadtxt_up_to: int) -> dict[str, object]:
    """Time and memory of each reader on each file size, as ratios to pandas / the file."""
    rows_out = []
    with tempfile.TemporaryDirectory() as folder:
        for rows in sizes:
            path = Path(folder) / f"table_{rows}.csv"
            size = write_table(path, rows)
            runners = readers(path)
            if rows > loadtxt_up_to:
                runners["numpy.loadtxt"] = None
            seconds = race(
                runners,
                repeats if rows <= 500_000 else max(1, repeats // 2),
                clock=time.process_time,
            )
            memory = {name: peak_memory(name, path) for name in seconds}
            rows_out.append({"rows": rows, "bytes": size, "seconds": seconds, "memory": memory})
            path.unlink()
    return {"files": rows_out}


def summary(results: dict | None) -> dict[str, float | None]:
    """The two figures with targets: time against pandas (the smaller file) and peak
    memory against the file's size (the larger one)."""
    if not results:
        return {"csv_vs_pandas": None, "csv_memory_vs_file": None}
    first, last = results["files"][0], results["files"][-1]
    pandas = first["seconds"].get("pandas")
    memory = (last["memory"].get("chainrule") or {}).get("rss")
    return {
        "csv_vs_pandas": None if pandas is None else first["seconds"]["chainrule"] / pandas,
        "csv_memory_vs_file": None if memory is None else max(memory, 0) / last["bytes"],
    }


TARGETS = {"csv_vs_pandas": 1.5, "csv_memory_vs_file": 4.0}


def markdown_rows(results: dict | None) -> list[str]:
    """Rows for the results table: per file, each reader's time and memory."""
    if not results:
        return []
    lines = [
        "13. Reading a CSV file of 10 numeric columns: CPU seconds and peak memory (rise of "
        "the resident set, as a multiple of the file's size; tracemalloc's peak in brackets).",
        "",
        "| rows | file (MB) | reader | seconds | / pandas (target) | memory / file (target) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for entry in results["files"]:
        pandas = entry["seconds"].get("pandas")
        for name, seconds in entry["seconds"].items():
            memory = entry["memory"].get(name) or {}
            ratio = "n/a" if pandas is None else f"{seconds / pandas:.2f}"
            fits = ""
            if name == "chainrule":
                ratio += " (<= 1.5)"
                fits = " (<= 4)"
            shown = (
                f"{memory['rss'] / entry['bytes']:.2f} ({memory['traced'] / entry['bytes']:.2f})"
                if memory
                else "n/a"
            )
            lines.append(
                f"| {entry['rows']:,} | {entry['bytes'] / 1e6:.1f} | {name} | {seconds:.3f} "
                f"| {ratio} | {shown}{fits} |"
            )
    return lines


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == _CHILD:
    _child(sys.argv[2], Path(sys.argv[3]))
elif __name__ == "__main__":
    outcome = bench_csv(3, (300_000,), 300_000)
    print("\n".join(markdown_rows(outcome)))
    print(summary(outcome))

"""Fuzz the model-file loaders: mutated valid files may only raise ``ModelFileError``.

Every input is written to a file and loaded with :func:`chainrule.io.load_model_file`
and :func:`chainrule.train.checkpoint.load_checkpoint`; any other exception is a bug.
The inputs grow from valid model files and a valid checkpoint by byte mutations (bit
flips, truncations, insertions, deletions, a new header length) and by edits of the
JSON header and of the chainrule document inside it.

Run it directly (``make fuzz`` does)::

    python tests/fuzz_model_files.py -max_total_time=300

With atheris installed this is coverage-guided fuzzing with libFuzzer (any libFuzzer
flag works: ``-runs=N``, ``-max_total_time=S``, a corpus folder); without it, random
mutations run for ``-max_total_time`` seconds (default 60). The test suite runs a
short session (tests/test_robust_fuzz.py) and reuses :func:`mutate` with hypothesis.
"""

from __future__ import annotations

import json
import random
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy  # noqa: F401  (imported before instrumentation: only chainrule is instrumented)

try:
    import atheris
except ImportError:  # the fallback below needs only the standard library
    atheris = None

# Coverage feedback comes from instrumenting chainrule's code as it is imported, which
# only a direct run does (the test suite imports this module for its mutations).
_INSTRUMENT = atheris is not None and __name__ == "__main__"
with atheris.instrument_imports(include=["chainrule"]) if _INSTRUMENT else nullcontext():
    import chainrule as cr
    from chainrule.io import ModelFileError, Preprocessing, load_model_file
    from chainrule.train.checkpoint import CHECKPOINT_FILE, load_checkpoint

Mutation = tuple[Any, ...]

# JSON values that have broken parsers before: huge and non-finite numbers, wrong types,
# deep nesting.
NASTY_VALUES: list[Any] = [
    None, True, 0, -1, 1, 2**63, -(2**70), 10**400, 1e308, float("inf"), float("nan"),
    -0.0, "", "x", "F32", "<f4", "float128", "Linear", [], [0], [-1, 3], [1, 2, 3],
    [[]], {}, {"type": "Linear"}, {"type": "Sequential", "layers": []},
]  # fmt: skip


def seed_files(folder: Path) -> list[bytes]:
    """Valid files to mutate, written in ``folder``: model files of several shapes and
    dtypes, and a checkpoint."""
    models = [
        cr.nn.Sequential(cr.nn.Linear(2, 3, rng=0), cr.nn.ReLU(), cr.nn.Linear(3, 2, rng=1)),
        cr.nn.Sequential(
            cr.nn.Linear(3, 2, bias="shared", rng=2, dtype="float64"),
            cr.nn.LeakyReLU(0.2),
            cr.nn.Linear(2, 2, bias=False, rng=3, dtype="float64"),
            cr.nn.Softmax(),
        ),
    ]
    scaler = cr.data.Standardizer().fit([[0.0, 1.0], [2.0, 5.0]])
    preprocessing = Preprocessing(
        feature_names=["a", "b"], target_name="y", task="classification",
        classes=["no", 1], scaler=scaler,
    )  # fmt: skip
    seeds = []
    for index, model in enumerate(models):
        path = folder / f"model{index}.safetensors"
        cr.save(model, path, preprocessing=preprocessing if index == 0 else None)
        seeds.append(path.read_bytes())
    X, y = cr.data.xor()
    cr.fit(
        cr.nn.Sequential(cr.nn.Linear(2, 2, rng=0)), X, y, loss="cross-entropy", epochs=1,
        verbose=0, rng=0, checkpoint_dir=folder, callbacks=[cr.train.EarlyStopping("loss")],
    )  # fmt: skip
    seeds.append((folder / CHECKPOINT_FILE).read_bytes())
    return seeds


# -- one input --------------------------------------------------------------------------
class Target:
    """Loads one input as a model file and as a checkpoint, in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.model = self.folder / "model.safetensors"
        self.checkpoint = self.folder / CHECKPOINT_FILE

    def __call__(self, data: bytes) -> None:
        self.model.write_bytes(data)
        self.checkpoint.write_bytes(data)
        for load in (lambda: load_model_file(self.model), lambda: load_checkpoint(self.folder)):
            try:
                load()
            except ModelFileError as err:
                message = str(err)
                if not message or "\n" in message:
                    raise AssertionError(f"not a one-line message: {message!r}") from None


# -- mutations --------------------------------------------------------------------------
def _split(data: bytes) -> tuple[dict[str, Any], bytes] | None:
    """(header, rest) of a file whose header is JSON, else None."""
    if len(data) < 8:
        return None
    length = int.from_bytes(data[:8], "little")
    try:
        header = json.loads(data[8 : 8 + length])
    except (ValueError, RecursionError):
        return None
    return (header, data[8 + length :]) if isinstance(header, dict) else None


def _join(header: dict[str, Any], rest: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + rest


def _slots(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _slots(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _slots(item, (*path, index))
    return found


def _edit(document: Any, choice: int, value: Any, action: str) -> Any:
    """``document`` with the value at slot ``choice`` replaced, deleted or duplicated."""
    slots = _slots(document)[1:]
    if not slots:
        return value
    path = slots[choice % len(slots)]
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if action == "delete":
        del parent[key]
    elif action == "wrap":
        parent[key] = [parent[key]] if isinstance(parent, dict) else {"x": parent[key]}
    else:
        parent[key] = value
    return document


def mutate(data: bytes, mutation: Mutation) -> bytes:
    """Apply one mutation, described as data so that hypothesis can draw and shrink it.

    ``("flip", position, bit)``, ``("truncate", length)``, ``("insert", position, bytes)``,
    ``("delete", position, count)``, ``("length", new header length)``,
    ``("header", slot, value, action)`` (the safetensors header) and
    ``("document", slot, value, action)`` (the chainrule JSON inside it); ``action`` is
    "set", "delete" or "wrap".
    """
    kind = mutation[0]
    if kind == "flip" and data:
        position = mutation[1] % len(data)
        return data[:position] + bytes([data[position] ^ (1 << mutation[2])]) + data[position + 1 :]
    if kind == "truncate":
        return data[: mutation[1] % (len(data) + 1)]
    if kind == "insert":
        position = mutation[1] % (len(data) + 1)
        return data[:position] + mutation[2] + data[position:]
    if kind == "delete" and data:
        position = mutation[1] % len(data)
        return data[:position] + data[position + mutation[2] :]
    if kind == "length":
        return struct.pack("<Q", mutation[1] % 2**64) + data[8:]
    parts = _split(data)
    if parts is None:
        return data
    header, rest = parts
    _, slot, value, action = mutation
    if kind == "header":
        return _join(_edit(header, slot, value, action), rest)
    metadata = header.get("__metadata__")
    document = metadata.get("chainrule") if isinstance(metadata, dict) else None
    if kind == "document" and isinstance(document, str):
        try:
            edited = _edit(json.loads(document), slot, value, action)
        except (ValueError, RecursionError):
            return data
        metadata["chainrule"] = json.dumps(edited)
        return _join(header, rest)
    return data


def random_mutation(rng: random.Random) -> Mutation:
    """One mutation with random parameters (the fallback's and atheris's structured step)."""
    kind = rng.choice(["flip", "truncate", "insert", "delete", "length", "header", "document"])
    if kind == "flip":
        return ("flip", rng.randrange(4096), rng.randrange(8))
    if kind == "truncate":
        return ("truncate", rng.randrange(4096))
    if kind == "insert":
        return ("insert", rng.randrange(4096), rng.randbytes(rng.randrange(1, 16)))
    if kind == "delete":
        return ("delete", rng.randrange(4096), rng.randrange(1, 64))
    if kind == "length":
        return ("length", rng.choice([0, 1, 2, 7, 2**24 + 1, 2**63, rng.randrange(4096)]))
    action = rng.choice(["set", "set", "set", "delete", "wrap"])
    return (kind, rng.randrange(256), rng.choice(NASTY_VALUES), action)


# -- running ----------------------------------------------------------------------------
def _fuzz_with_atheris(
    argv: list[str], seeds: list[bytes], target: Callable[[bytes], None], folder: Path
) -> None:
    corpus = folder / "corpus"
    corpus.mkdir()
    for index, seed in enumerate(seeds):
        (corpus / f"seed{index}").write_bytes(seed)
    folders = [arg for arg in argv[1:] if not arg.startswith("-")]
    flags = [arg for arg in argv[1:] if arg.startswith("-")]
    if not any(flag.startswith("-artifact_prefix=") for flag in flags):
        flags.append(f"-artifact_prefix={folder}/")
    if not any(flag.startswith("-max_len=") for flag in flags):
        flags.append(f"-max_len={2 * max(map(len, seeds))}")

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.5:
            return bytes(atheris.Mutate(data, max_size))
        return mutate(data, random_mutation(rng))[:max_size]

    atheris.Setup([argv[0], *flags, *(folders or [str(corpus)])], target,
                  custom_mutator=custom_mutator)  # fmt: skip
    atheris.Fuzz()


def _fuzz_randomly(
    argv: list[str], seeds: list[bytes], target: Callable[[bytes], None], folder: Path
) -> None:
    options = dict(arg[1:].split("=", 1) for arg in argv[1:] if arg.startswith("-") and "=" in arg)
    seconds = float(options.get("max_total_time", 60))
    runs = int(options.get("runs", 10**12))
    rng = random.Random(int(options.get("seed", 0)))
    print(f"atheris is not installed: {seconds:g} s of random mutations instead")
    began, done = time.monotonic(), 0
    while done < runs and time.monotonic() - began < seconds:
        data = rng.choice(seeds)
        for _ in range(rng.randrange(1, 4)):
            data = mutate(data, random_mutation(rng))
        try:
            target(data)
        except BaseException:
            crash = folder / "crash-input"
            crash.write_bytes(data)
            print(f"crash after {done} runs; the input is in {crash}", file=sys.stderr)
            raise
        done += 1
    print(f"Done {done} runs in {time.monotonic() - began:.0f} second(s)")


def main(argv: list[str]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="chainrule-fuzz-"))
    print(f"working folder (a crashing input is kept there): {folder}", flush=True)
    (folder / "seeds").mkdir()
    (folder / "target").mkdir()
    seeds, target = seed_files(folder / "seeds"), Target(folder / "target")
    for seed in seeds:
        target(seed)  # the valid files load
    if atheris is not None:
        _fuzz_with_atheris(argv, seeds, target, folder)
    else:
        _fuzz_randomly(argv, seeds, target, folder)


if __name__ == "__main__":
    main(sys.argv)

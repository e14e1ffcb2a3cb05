"""chainrule benchmarks (`make bench`): ratios against references in the same run.

Contestants alternate within each repetition, so drifts in the machine's speed hit
all of them alike; each figure is a median over the repetitions. Results go to
bench/results.json and bench/results.md.

    python bench/run.py            # everything (a few minutes on 2 cores)
    python bench/run.py --quick    # fewer repetitions and sizes
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import adam  # noqa: E402
import contestants as c  # noqa: E402
import csv_reading  # noqa: E402
import estimators  # noqa: E402
import small_batch  # noqa: E402
from busy import bench_busy  # noqa: E402
from racing import race, single_threaded, timed  # noqa: E402

HERE = Path(__file__).resolve().parent
Runner = Callable[[], None]


def matmul_peak(sizes: tuple[int, ...] = (512, 1024, 2048)) -> float:
    """Best float32 GEMM throughput in GFLOP/s over a few square sizes."""
    best = 0.0
    rng = np.random.default_rng(0)
    for n in sizes:
        a, b = (rng.random((n, n), dtype=np.float32) for _ in range(2))
        product = functools.partial(np.matmul, a, b)
        product()
        reps = max(3, int(2e10 / (2 * n**3)))
        seconds = min(timed(product) for _ in range(reps))
        best = max(best, 2 * n**3 / seconds / 1e9)
    return best


def mlp_flops(sizes: list[int], samples: int) -> float:
    """Training FLOPs: forward matmul + two backward matmuls per layer (the first layer
    needs no input gradient)."""
    total = 0
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        total += 2 * a * b * samples * (2 if i == 0 else 3)
    return float(total)


def synthetic(samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(samples, 784)).astype(np.float32), rng.integers(0, 10, samples)


def bench_large(repeats: int, samples: int) -> dict[str, object]:
    """The large MLP's epoch with the BLAS's own threads (wall-clock time), then with one
    thread (CPU time); each time with the epoch's matrix products alone (the floor) among
    the contestants."""
    X, y = synthetic(samples)
    args = (X, y, 128, 0.01)
    medians = race(
        {
            "floor": c.matmul_floor(*args),
            "chainrule": c.chainrule_mlp(*args),
            "numpy": c.numpy_mlp(*args),
            "pytorch": c.torch_mlp(*args),
            "scikit-learn": c.sklearn_mlp(*args),
        },
        repeats,
    )
    single: dict[str, float] | None = None
    single_peak: float | None = None
    with single_threaded() as limited:
        if limited:
            single_peak = matmul_peak()
            single = race(
                {
                    "floor": c.matmul_floor(*args),
                    "chainrule": c.chainrule_mlp(*args),
                    "numpy": c.numpy_mlp(*args),
                    "pytorch": c.torch_mlp(*args),
                },
                repeats,
                clock=time.process_time,
            )
    return {
        "samples": samples,
        "flops": mlp_flops(c.mlp_sizes(256), samples),
        "seconds": medians,
        "single_thread_seconds": single,
        "single_thread_matmul_gflops": single_peak,
    }


def bench_tiny(repeats: int, steps: int) -> dict[str, object]:
    contestants = {
        "chainrule": c.chainrule_tiny(steps),
        "numpy": c.numpy_tiny(steps),
        "pytorch": c.torch_tiny(steps),
        "scikit-learn": c.sklearn_tiny(steps),
    }
    return _per_step(contestants, repeats, steps)


def bench_adam_tiny(repeats: int, steps: int) -> dict[str, object]:
    """The tiny network's full step (forward, loss, backward, Adam) in float64."""
    contestants = {
        "chainrule": adam.chainrule_tiny_adam(steps),
        "numpy": adam.numpy_tiny_adam(steps),
        "pytorch": adam.torch_tiny_adam(steps),
    }
    return _per_step(contestants, repeats, steps)


def _per_step(
    contestants: dict[str, Runner | None], repeats: int, steps: int
) -> dict[str, object]:
    """Race runners of ``steps`` steps each; microseconds a step."""
    medians = race(contestants, repeats)
    return {"steps": steps, "us_per_step": {k: v / steps * 1e6 for k, v in medians.items()}}


def bench_adam_large(repeats: int, samples: int) -> dict[str, object]:
    """An epoch of the large MLP trained with Adam (batch 128, float32)."""
    X, y = synthetic(samples, seed=4)
    medians = race(
        {
            "chainrule": adam.chainrule_mlp_adam(X, y, 128),
            "numpy": adam.numpy_mlp_adam(X, y, 128),
            "pytorch": adam.torch_mlp_adam(X, y, 128),
        },
        repeats,
    )
    return {"samples": samples, "seconds": medians}
def bench_small_batch(repeats: int) -> dict[str, object]:
    """One SGD epoch at batch 4 of the 256-256-10 network (see bench/small_batch.py)."""
    with single_threaded():
        medians = race(small_batch.contestants(), repeats)
    return {"samples": small_batch.SAMPLES, "batch": small_batch.BATCH, "seconds": medians}


def bench_scaling(
    repeats: int, widths: list[int], batches: list[int], peak: float
) -> dict[str, object]:
    rows = []
    X, y = synthetic(8192, seed=1)
    for width in widths:
        medians = race(
            {
                "chainrule": c.chainrule_mlp(X, y, 128, 0.01, width),
                "numpy": c.numpy_mlp(X, y, 128, 0.01, width),
            },
            repeats,
        )
        flops = mlp_flops(c.mlp_sizes(width), len(X))
        rows.append(
            {"kind": "width", "width": width, "batch": 128, **_scaling_row(medians, flops, peak)}
        )
    X, y = synthetic(4096, seed=2)
    for batch in batches:
        medians = race(
            {
                "chainrule": c.chainrule_mlp(X, y, batch, 0.01),
                "numpy": c.numpy_mlp(X, y, batch, 0.01),
            },
            repeats,
        )
        flops = mlp_flops(c.mlp_sizes(256), len(X))
        rows.append(
            {"kind": "batch", "width": 256, "batch": batch, **_scaling_row(medians, flops, peak)}
        )
    return {"rows": rows}


def _scaling_row(medians: dict[str, float], flops: float, peak: float) -> dict[str, float]:
    return {
        "chainrule_s": medians["chainrule"],
        "numpy_s": medians["numpy"],
        "ratio": medians["chainrule"] / medians["numpy"],
        "chainrule_gflops": flops / medians["chainrule"] / 1e9,
        "fraction_of_peak": flops / medians["chainrule"] / 1e9 / peak,
    }


def bench_memory(steps_samples: int = 128 * 40) -> dict[str, object]:
    """Peak bytes NumPy allocates during training steps (data excluded)."""
    X, y = synthetic(steps_samples, seed=3)
    peaks = {}
    for name, make in (("chainrule", c.chainrule_mlp), ("numpy", c.numpy_mlp)):
        run = make(X, y, 128, 0.01)
        run()  # reach steady state: gradients and buffers exist
        tracemalloc.start()
        run()
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"peak_bytes": peaks, "ratio": peaks["chainrule"] / peaks["numpy"]}


def bench_explain(repeats: int) -> dict[str, object] | None:
    try:
        from chainrule.explain import examples
    except ImportError:
        return None

    def build() -> None:
        examples.example("house-prices").to_html()

    build()
    return {"seconds": statistics.median(timed(build) for _ in range(repeats))}


def bench_studio(repeats: int) -> dict[str, object] | None:
    """The studio over real HTTP: an explained step's round trip, live-training updates/s."""
    try:
        import http.client
        import threading

        import uvicorn

        from chainrule.studio import server
    except ImportError:
        return None
    token = server.new_token()
    sock = server.bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    app = server.create_app(token, server.allowed_hosts("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not running.started:
        time.sleep(0.01)
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"X-Studio-Token": token, "Content-Type": "application/json"}

    def call(method: str, path: str, body: dict | None = None) -> bytes:
        connection.request(method, path, json.dumps(body or {}), headers)
        response = connection.getresponse()
        content = response.read()
        assert response.status < 300, content
        return content

    steps: dict[str, float] = {}
    for name in ("house-prices", "softmax-classifier"):
        key = json.loads(call("POST", "/api/sessions", {"example": name}))["session"]
        step = functools.partial(call, "POST", f"/api/sessions/{key}/step", {"apply": False})
        step()
        steps[name] = 1000 * statistics.median(timed(step) for _ in range(repeats * 10))
    # A 2-16-16-2 network on all 500 points of the moons, one update per epoch.
    setup = {"example": "moons", "hidden": [16, 16], "validation": 0.0}
    key = json.loads(call("POST", "/api/sessions", setup))["session"]
    epochs = 50 * repeats
    began = time.perf_counter()
    connection.request("GET", f"/api/sessions/{key}/train?epochs={epochs}", headers=headers)
    stream = connection.getresponse()
    updates = sum(1 for line in stream if line.startswith(b"event: update"))
    per_second = updates / (time.perf_counter() - began)
    connection.close()
    running.should_exit = True
    thread.join(timeout=10)
    return {"step_ms": steps, "updates_per_second": per_second, "updates": updates}


def ratio(a: float, b: float | None) -> float | None:
    return None if b is None else a / b


def summarise(results: dict) -> dict[str, object]:
    large = results["large"]["seconds"]
    tiny = results["tiny"]["us_per_step"]
    adam_tiny = results["adam_tiny"]["us_per_step"]
    adam_large = results["adam_large"]["seconds"]
    busy = results["busy"]
    small = results["small_batch"]["seconds"]
    single = results["large"].get("single_thread_seconds") or {}
    return {
        "large_vs_floor": ratio(large["chainrule"], large.get("floor")),
        "large_single_vs_floor": ratio(single["chainrule"], single["floor"]) if single else None,
        "large_single_vs_numpy": ratio(single["chainrule"], single["numpy"]) if single else None,
        "large_single_vs_pytorch": (
            ratio(single["chainrule"], single.get("pytorch")) if single else None
        ),
        "large_vs_numpy": ratio(large["chainrule"], large.get("numpy")),
        "large_vs_pytorch": ratio(large["chainrule"], large.get("pytorch")),
        "large_vs_sklearn": ratio(large["chainrule"], large.get("scikit-learn")),
        "tiny_vs_numpy": ratio(tiny["chainrule"], tiny.get("numpy")),
        "tiny_vs_pytorch": ratio(tiny["chainrule"], tiny.get("pytorch")),
        "adam_tiny_vs_numpy": ratio(adam_tiny["chainrule"], adam_tiny.get("numpy")),
        "adam_tiny_vs_pytorch": ratio(adam_tiny["chainrule"], adam_tiny.get("pytorch")),
        "adam_large_vs_numpy": ratio(adam_large["chainrule"], adam_large.get("numpy")),
        "adam_large_vs_pytorch": ratio(adam_large["chainrule"], adam_large.get("pytorch")),
        "small_batch_vs_numpy": ratio(small["chainrule"], small.get("numpy")),
        "small_batch_vs_pytorch": ratio(small["chainrule"], small.get("pytorch")),
        "memory_vs_numpy": results["memory"]["ratio"],
        "explain_seconds": (results.get("explain") or {}).get("seconds"),
        "studio_step_ms": max(
            (results.get("studio") or {}).get("step_ms", {}).values(), default=None
        ),
        "studio_updates_per_second": (results.get("studio") or {}).get("updates_per_second"),
        **estimators.summary(results.get("estimators")),
        "busy_vs_quiet": ratio(busy["busy"]["chainrule"], busy["quiet"]["chainrule"]),
        "numpy_busy_vs_quiet": ratio(busy["busy"]["numpy"], busy["quiet"]["numpy"]),
        **csv_reading.summary(results.get("csv")),
    }


TARGETS = {
    "large_single_vs_floor": 1.3,
    "large_single_vs_numpy": 1.10,
    "large_single_vs_pytorch": 1.0,
    "large_vs_numpy": 1.10,
    "large_vs_pytorch": 0.75,
    "tiny_vs_numpy": 1.6,
    "tiny_vs_pytorch": 0.25,
    "adam_tiny_vs_numpy": 1.3,
    "adam_tiny_vs_pytorch": 0.2,
    "adam_large_vs_numpy": 1.10,
    "adam_large_vs_pytorch": 1.0,
    "small_batch_vs_numpy": 1.3,
    "memory_vs_numpy": 1.2,
    "explain_seconds": 0.5,
    "studio_step_ms": 100.0,
    "studio_updates_per_second": 20.0,
    **estimators.TARGETS,
    "busy_vs_quiet": 3.0,
    **csv_reading.TARGETS,
}


def _cell(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _pair(busy: float, quiet: float) -> str:
    return f"{busy:.3f} / {quiet:.3f}"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(results: dict) -> str:
    s = results["summary"]
    m = results["machine"]
    large, tiny = results["large"]["seconds"], results["tiny"]["us_per_step"]
    adam_tiny, adam_large = results["adam_tiny"]["us_per_step"], results["adam_large"]["seconds"]
    small_run = results["small_batch"]
    small = small_run["seconds"]
    mem = results["memory"]["peak_bytes"]
    busy = results["busy"]
    lines = [
        f"Machine: {m['cpus']} CPUs, {m['blas']}, float32 matmul peak "
        f"{m['matmul_gflops']:.0f} GFLOP/s; numpy {m['numpy']}, PyTorch {m['torch'] or 'absent'}.",
        "",
        _row(
            "benchmark",
            "chainrule",
            "NumPy reference",
            "PyTorch",
            "scikit-learn",
            "chainrule / NumPy (target)",
            "chainrule / PyTorch (target)",
        ),
        _row(*["---"] * 7),
        _row(
            f"1. MLP 784-256-256-10, one epoch of {results['large']['samples']:,} samples (s)",
            _cell(large["chainrule"], ".3f"),
            _cell(large.get("numpy"), ".3f"),
            _cell(large.get("pytorch"), ".3f"),
            _cell(large.get("scikit-learn"), ".3f"),
            f"{_cell(s['large_vs_numpy'], '.3f')} (<= 1.10)",
            f"{_cell(s['large_vs_pytorch'], '.3f')} (<= 0.75)",
        ),
        _row(
            "2. [4, 5, 1] sigmoid network, one full-batch step (us)",
            _cell(tiny["chainrule"], ".1f"),
            _cell(tiny.get("numpy"), ".1f"),
            _cell(tiny.get("pytorch"), ".1f"),
            _cell(tiny.get("scikit-learn"), ".1f"),
            f"{_cell(s['tiny_vs_numpy'], '.3f')} (<= 1.6)",
            f"{_cell(s['tiny_vs_pytorch'], '.3f')} (<= 0.25)",
        ),
        _row(
            "9. [4, 5, 1] sigmoid network, float64, one full-batch step with Adam (us)",
            _cell(adam_tiny["chainrule"], ".1f"),
            _cell(adam_tiny.get("numpy"), ".1f"),
            _cell(adam_tiny.get("pytorch"), ".1f"),
            "",
            f"{_cell(s['adam_tiny_vs_numpy'], '.3f')} (<= 1.3)",
            f"{_cell(s['adam_tiny_vs_pytorch'], '.3f')} (<= 0.2)",
        ),
        _row(
            f"10. MLP 784-256-256-10 with Adam, one epoch of "
            f"{results['adam_large']['samples']:,} samples (s)",
            _cell(adam_large["chainrule"], ".3f"),
            _cell(adam_large.get("numpy"), ".3f"),
            _cell(adam_large.get("pytorch"), ".3f"),
            "",
            f"{_cell(s['adam_large_vs_numpy'], '.3f')} (<= 1.10)",
            f"{_cell(s['adam_large_vs_pytorch'], '.3f')} (<= 1.0)",
        ),
        _row(
            "4. peak memory allocated by training steps (MB)",
            _cell(mem["chainrule"] / 1e6, ".2f"),
            _cell(mem["numpy"] / 1e6, ".2f"),
            "",
            "",
            f"{_cell(s['memory_vs_numpy'], '.3f')} (<= 1.2)",
            "",
        ),
        _row(
            "5. house-prices explanation report (s)",
            _cell(s["explain_seconds"], ".3f"),
            "",
            "",
            "",
            "(< 0.5 s)",
            "",
        ),
        _row(
            "6. studio: an explained step's round trip over HTTP, slower worked example (ms)",
            _cell(s["studio_step_ms"], ".1f"),
            "",
            "",
            "",
            "(< 100 ms)",
            "",
        ),
        _row(
            "7. studio: live-training updates of a 2-16-16-2 network on 500 points (per s)",
            _cell(s["studio_updates_per_second"], ".1f"),
            "",
            "",
            "",
            "(>= 20)",
            "",
        ),
        _row(
            f"11. MLP 784-256-256-10, one epoch of {results['busy']['samples']:,} samples through "
            "fit, beside two busy programs / quiet (s)",
            _pair(busy["busy"]["chainrule"], busy["quiet"]["chainrule"]),
            _pair(busy["busy"]["numpy"], busy["quiet"]["numpy"]),
            "",
            "",
            f"busy / quiet: {_cell(s['busy_vs_quiet'], '.2f')} (<= 3.0); "
            f"NumPy's {_cell(s['numpy_busy_vs_quiet'], '.2f')}",
            "",
        ),
        _row(
            f"12. 256-256-10 ReLU network, one SGD epoch of {small_run['samples']:,} samples in "
            f"batches of {small_run['batch']} (s)",
            _cell(small["chainrule"], ".3f"),
            _cell(small.get("numpy"), ".3f"),
            _cell(small.get("pytorch"), ".3f"),
            "",
            f"{_cell(s['small_batch_vs_numpy'], '.3f')} (<= 1.3)",
            _cell(s["small_batch_vs_pytorch"], ".3f"),
        ),
        "",
        *large_mlp_lines(results),
        "",
        "3. Scaling: epoch time against width (8,192 samples, batch 128) and against batch size "
        "(4,096 samples, width 256).",
        "",
        _row(
            "width",
            "batch",
            "chainrule (s)",
            "NumPy (s)",
            "ratio",
            "chainrule GFLOP/s",
            "share of matmul peak",
        ),
        _row(*["---"] * 7),
    ]
    for r in results["scaling"]["rows"]:
        lines.append(
            _row(
                r["width"],
                r["batch"],
                f"{r['chainrule_s']:.3f}",
                f"{r['numpy_s']:.3f}",
                f"{r['ratio']:.2f}",
                f"{r['chainrule_gflops']:.1f}",
                f"{r['fraction_of_peak']:.0%}",
            )
        )
    lines += ["", *estimators.markdown(results.get("estimators"))]
    lines += ["", *csv_reading.markdown_rows(results.get("csv"))]
    return "\n".join(lines) + "\n"


LABELS = {
    "floor": "matrix products alone (floor)",
    "numpy": "hand-written NumPy",
    "pytorch": "PyTorch",
}


def large_mlp_lines(results: dict) -> list[str]:
    """Benchmark 1 contestant by contestant, against the epoch's matrix products alone."""
    large = results["large"]
    flops = large["flops"]
    runs = [("default", large["seconds"], results["machine"]["matmul_gflops"])]
    if large.get("single_thread_seconds"):
        runs.append(("1", large["single_thread_seconds"], large["single_thread_matmul_gflops"]))
    lines = [
        "1. The large MLP's epoch contestant by contestant, against its floor: the epoch's "
        "eight matrix products per batch alone (forward 3, backward 5), same shapes and dtype. "
        "Throughput counts those products' FLOPs; its share of the matmul peak (measured with "
        "the same threads) and of the floor's throughput.",
        "",
        _row(
            "contestant",
            "BLAS threads",
            "epoch (s)",
            "x floor",
            "x NumPy",
            "GFLOP/s",
            "share of matmul peak",
            "share of floor",
        ),
        _row(*["---"] * 8),
    ]
    for threads, seconds, peak in runs:
        floor, numpy = seconds.get("floor"), seconds.get("numpy")
        for name, value in seconds.items():
            gflops = flops / value / 1e9
            lines.append(
                _row(
                    LABELS.get(name, name),
                    threads,
                    f"{value:.3f}",
                    _cell(ratio(value, floor), ".3f"),
                    _cell(ratio(value, numpy), ".3f"),
                    f"{gflops:.1f}",
                    f"{gflops / peak:.0%}",
                    "n/a" if floor is None else f"{floor / value:.0%}",
                )
            )
    s = results["summary"]
    lines += [
        "",
        "Targets with one BLAS thread for every contestant: chainrule "
        f"{_cell(s['large_single_vs_floor'], '.3f')} x the floor (<= 1.3), "
        f"{_cell(s['large_single_vs_numpy'], '.3f')} x NumPy (<= 1.10), "
        f"{_cell(s['large_single_vs_pytorch'], '.3f')} x PyTorch (<= 1.0).",
    ]
    return lines


def machine_info(peak: float) -> dict[str, object]:
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i.get('internal_api')} {i.get('architecture')} x{i.get('num_threads')}"
            for i in threadpool_info()
        )
    except ImportError:
        blas = "unknown BLAS"
    try:
        import torch

        torch_version: str | None = torch.__version__
    except ImportError:
        torch_version = None
    import os

    return {
        "cpus": os.cpu_count(),
        "blas": blas,
        "matmul_gflops": peak,
        "numpy": np.__version__,
        "torch": torch_version,
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and sizes")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    print("measuring matmul peak ...", flush=True)
    peak = matmul_peak()
    results: dict = {"machine": machine_info(peak)}
    print("1. large MLP ...", flush=True)
    results["large"] = bench_large(repeats, 20_000 if args.quick else 60_000)
    print("2. tiny network ...", flush=True)
    results["tiny"] = bench_tiny(repeats, 5_000)
    print("9. tiny network, Adam ...", flush=True)
    results["adam_tiny"] = bench_adam_tiny(repeats, 5_000)
    print("10. large MLP, Adam ...", flush=True)
    results["adam_large"] = bench_adam_large(repeats, 8_192 if args.quick else 20_000)
    print("3. scaling ...", flush=True)
    widths = [64, 256, 1024] if args.quick else [64, 128, 256, 512, 1024, 2048]
    batches = [1, 32, 1024] if args.quick else [1, 4, 16, 64, 256, 1024]
    results["scaling"] = bench_scaling(max(2, repeats - 2), widths, batches, peak)
    print("4. memory ...", flush=True)
    results["memory"] = bench_memory()
    print("5. explanation report ...", flush=True)
    results["explain"] = bench_explain(repeats * 4)
    print("6-7. studio ...", flush=True)
    results["studio"] = bench_studio(repeats)
    print("8. scikit-learn estimators ...", flush=True)
    results["estimators"] = estimators.bench_estimators(repeats, args.quick)
    print("11. busy machine ...", flush=True)
    results["busy"] = bench_busy(repeats, 20_000)
    print("12. small batches ...", flush=True)
    results["small_batch"] = bench_small_batch(repeats)
    print("13. reading CSV files ...", flush=True)
    results["csv"] = csv_reading.bench_csv(repeats, (300_000, 2_000_000), 300_000)
    results["summary"] = summarise(results)
    results["targets"] = TARGETS
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (HERE / "results.md").write_text(table)
    print()
    print(table)


if __name__ == "__main__":
    main()

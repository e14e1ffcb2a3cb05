"""Gradient clipping: clip_grad_norm_, clip_grad_value_, get_total_norm and fit's
ClipGradNorm, against worked arithmetic, float64 formulas and PyTorch's own functions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_, get_total_norm
from chainrule.train import ClipGradNorm


def params_with(*grads, dtype=np.float64):
    out = []
    for grad in grads:
        p = cr.nn.Parameter(np.zeros(np.shape(grad), dtype))
        p.grad = np.array(grad, dtype)
        out.append(p)
    return out


def grad_norm(params, p=2.0):
    """The p-norm of the parameters' gradients together, as a float."""
    return get_total_norm([q.grad for q in params if q.grad is not None], p).item()


def reference_norm(grads, p):
    """The p-norm of all entries as one vector, in float64: np.linalg.norm of the entries
    over the largest size, times it (np.linalg.norm alone squares 1e-160 to a subnormal)."""
    flat = np.concatenate([np.ravel(g).astype(np.float64) for g in grads])
    biggest = float(np.max(np.abs(flat), initial=0.0))
    return biggest * float(np.linalg.norm(flat / biggest, ord=p)) if biggest else 0.0


def test_the_3_4_5_triangle():
    # Gradients (3) and (4): together a vector of length sqrt(9 + 16) = 5. Clipped to
    # length 1 they are multiplied by 1 / (5 + 1e-6) (PyTorch's epsilon): 3 / 5.000001 =
    # 0.59999988..., 4 / 5.000001 = 0.79999984..., a vector of length 5 / 5.000001.
    a, b = params_with([3.0], [4.0])
    norm = clip_grad_norm_([a, b], max_norm=1.0)
    assert norm.item() == 5.0 and norm.dtype == np.float64 and norm.shape == ()
    factor = 1.0 / (5.0 + 1e-6)
    assert a.grad[0] == 3.0 * factor and b.grad[0] == 4.0 * factor
    assert math.hypot(a.grad[0], b.grad[0]) == pytest.approx(5 / 5.000001, rel=1e-15)


def test_gradients_shorter_than_max_norm_are_left_as_they_are():
    # Length sqrt(0.09 + 0.16) = 0.5: with max_norm 0.6 the factor 0.6 / 0.500001 is over
    # 1 and nothing changes; with max_norm 0.5 it is 0.5 / 0.500001, a hair under 1.
    (a,) = params_with([0.3, -0.4])
    grad, kept = a.grad, a.grad.copy()
    assert clip_grad_norm_(a, max_norm=0.6).item() == pytest.approx(0.5, rel=1e-15)
    assert a.grad is grad and np.array_equal(a.grad, kept)
    clip_grad_norm_(a, max_norm=0.5)
    assert a.grad is grad  # scaled in place
    np.testing.assert_array_equal(a.grad, kept * (0.5 / (np.linalg.norm(kept) + 1e-6)))


def test_infinity_norm_and_one_norm():
    # Entries 3, -4, 12: the largest size is 12; the sum of sizes is 19.
    (a,) = params_with([3.0, -4.0, 12.0])
    assert clip_grad_norm_(a, max_norm=6.0, norm_type="inf").item() == 12.0
    np.testing.assert_allclose(a.grad, np.array([3.0, -4.0, 12.0]) * (6.0 / (12.0 + 1e-6)))
    (b,) = params_with([3.0, -4.0, 12.0])
    assert clip_grad_norm_(b, max_norm=100.0, norm_type=1).item() == 19.0
    assert grad_norm(params_with([3.0, -4.0, 12.0]), math.inf) == 12.0


@settings(max_examples=60, deadline=None)
@given(
    shapes=st.lists(st.sampled_from([(), (1,), (3,), (4, 5), (2, 3, 2)]), min_size=1, max_size=5),
    p=st.sampled_from([1.0, 2.0, 3.0, 0.5, math.inf]),
    # float32's squares go subnormal below about 1e-19 and vanish below 1e-23; float64's
    # below about 1e-154 and 1e-162.
    scale=st.sampled_from([1e-30, 1e-21, 1e-160, 1e-3, 1.0, 1e3, 1e20]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_clip_grad_norm_matches_the_float64_formula(shapes, p, scale, dtype, seed):
    # Tiny and huge entries too: a float32 sum of squares would underflow to 0 or overflow
    # to inf there, and the norm must still come out right.
    rng = np.random.default_rng(seed)
    grads = [(rng.normal(size=shape) * scale).astype(dtype) for shape in shapes]
    params = params_with(*grads, dtype=dtype)
    expected = reference_norm(grads, p)
    limit = expected * float(rng.choice([0.1, 0.5, 2.0]))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert grad_norm(params, p) == pytest.approx(expected, rel=rtol, abs=0)
    norm = clip_grad_norm_(params, limit, norm_type=p)
    assert norm.dtype == dtype
    assert float(norm.item()) == pytest.approx(expected, rel=rtol, abs=0)
    factor = min(1.0, limit / (expected + 1e-6))
    for param, grad in zip(params, grads):
        np.testing.assert_allclose(param.grad, grad * factor, rtol=rtol, atol=0)
        assert param.grad.dtype == dtype
    assert reference_norm([q.grad for q in params], p) <= limit * (1 + rtol) + 1e-300


@pytest.mark.parametrize("p", [2.0, 3.0, 1.0])
@pytest.mark.parametrize("scale", [1e-30, 1e25])
def test_float32_gradients_whose_squares_underflow_or_overflow(scale, p):
    # 1e-30 squared is 1e-60, below float32's smallest number: a float32 sum of squares
    # is 0. 1e25 squared is 1e50, above its largest: inf. The 2-norm of (3, 4) * scale is
    # 5 * scale all the same (the 3-norm 91^(1/3) * scale, the 1-norm 7 * scale). Clipped
    # to 1, the tiny gradients stay as they are; the huge ones, of 2-norm 5e25, are
    # multiplied by 1 / (5e25 + 1e-6) = 2e-26, to (0.6, 0.8).
    grads = np.array([3.0, 4.0], np.float32) * np.float32(scale)
    (a,) = params_with(grads, dtype=np.float32)
    expected = {2.0: 5.0, 3.0: (27 + 64) ** (1 / 3), 1.0: 7.0}[p] * scale
    assert grad_norm([a], p) == pytest.approx(expected, rel=1e-6, abs=0)
    assert clip_grad_norm_(a, 1.0, norm_type=p).item() == pytest.approx(expected, rel=1e-6, abs=0)
    factor = min(1.0, 1.0 / (expected + 1e-6))
    np.testing.assert_allclose(a.grad, grads.astype(np.float64) * factor, rtol=1e-6)
    assert np.array_equal(a.grad, grads) == (scale < 1)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for dtype, rtol in ((np.float32, 1e-6), (np.float64, 1e-13)):
        for p in (1.0, 2.0, 3.0, math.inf):
            for limit in (0.01, 1.0, 1e3):
                grads = [rng.normal(size=s).astype(dtype) for s in ((5, 4), (4,), (4, 3), (3,))]
                ours = params_with(*grads, dtype=dtype)
                theirs = [torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype) for g in grads]
                for t, g in zip(theirs, grads):
                    t.grad = torch.from_numpy(g.copy())
                norm = clip_grad_norm_(ours, limit, norm_type=p)
                their_norm = torch.nn.utils.clip_grad_norm_(theirs, limit, norm_type=p)
                assert norm.item() == pytest.approx(their_norm.item(), rel=rtol)
                for q, t in zip(ours, theirs):
                    np.testing.assert_allclose(q.grad, t.grad.numpy(), rtol=rtol)
                for q, t, g in zip(ours, theirs, grads):
                    q.grad, t.grad = g.copy(), torch.from_numpy(g.copy())
                clip_grad_value_(ours, 0.5)
                torch.nn.utils.clip_grad_value_(theirs, 0.5)
                for q, t in zip(ours, theirs):
                    assert np.array_equal(q.grad, t.grad.numpy())


def test_non_finite_gradients_follow_pytorch_or_raise_when_asked():
    # A NaN makes the norm NaN, and scaling by max_norm / NaN makes every gradient NaN;
    # an infinity makes it inf, the factor 0: finite entries become 0, the infinity NaN.
    a, b = params_with([1.0, np.nan], [2.0])
    assert math.isnan(clip_grad_norm_([a, b], 1.0).item())
    assert np.isnan(a.grad).all() and np.isnan(b.grad).all()
    c, d = params_with([1.0, np.inf], [2.0])
    assert clip_grad_norm_([c, d], 1.0).item() == math.inf
    assert c.grad[0] == 0.0 and np.isnan(c.grad[1]) and d.grad[0] == 0.0
    e, f = params_with([1.0, np.inf], [np.nan])
    with pytest.raises(ValueError, match="norm is nan .*error_if_nonfinite=False"):
        clip_grad_norm_([e, f], 1.0, error_if_nonfinite=True)
    assert e.grad[1] == np.inf and np.isnan(f.grad[0])  # untouched
    (g,) = params_with([1.0, -np.inf])
    with pytest.raises(ValueError, match="norm is inf"):
        clip_grad_norm_(g, 1.0, error_if_nonfinite=True)
    assert g.grad[1] == -np.inf
    with pytest.raises(ValueError, match="get_total_norm: the tensors' norm is inf"):
        get_total_norm(g.grad, error_if_nonfinite=True)


def test_a_float32_norm_beyond_float32_is_infinite_as_returned_and_as_compared():
    # sqrt(2) * 3e38 = 4.2e38 is a float64, but over float32's largest, 3.4e38: the norm is
    # inf, as PyTorch's float32 norm, and the decision follows the number returned.
    (a,) = params_with([3e38, 3e38], dtype=np.float32)
    with pytest.raises(ValueError, match="norm is inf"):
        clip_grad_norm_(a, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_(a, 1.0).item() == math.inf
    assert np.array_equal(a.grad, [0.0, 0.0])  # scaled by 1 / inf
    (b,) = params_with([3e38, 3e38])  # float64: finite
    assert clip_grad_norm_(b, 1.0).item() == pytest.approx(math.sqrt(2) * 3e38)


def test_parameters_without_gradients_are_skipped():
    a, b = params_with([3.0], [4.0])
    frozen = cr.nn.Parameter(np.ones(2))  # no .grad
    assert clip_grad_norm_([a, frozen, b], 1.0).item() == 5.0
    assert frozen.grad is None
    assert clip_grad_norm_([frozen], 1.0).item() == 0.0
    assert grad_norm([]) == 0.0
    model = cr.nn.Sequential(cr.nn.Linear(2, 2, rng=0))
    assert clip_grad_norm_(model.parameters(), 1.0).item() == 0.0  # a generator, no grads


def test_a_generator_max_norm_0_a_returned_norm_and_small_p():
    model = cr.nn.Sequential(cr.nn.Linear(2, 3, rng=0), cr.nn.Linear(3, 1, rng=1))
    for p in model.parameters():
        p.grad = np.ones_like(p.data)  # 6 + 3 + 3 + 1 = 13 ones: 2-norm sqrt(13)
    norm = clip_grad_norm_(model.parameters(), max_norm=1.0, norm_type="2")  # read once
    assert norm.item() == pytest.approx(math.sqrt(13), rel=1e-6)
    assert grad_norm(model.parameters()) == pytest.approx(1.0, rel=1e-5)
    # The returned norm (a 0-d tensor) as a max_norm: sqrt(13) is over 1, nothing changes.
    kept = [p.grad.copy() for p in model.parameters()]
    clip_grad_norm_(model.parameters(), max_norm=norm)
    assert all(np.array_equal(p.grad, k) for p, k in zip(model.parameters(), kept))
    clip_grad_norm_(model.parameters(), max_norm=0)  # factor 0: every gradient is 0
    assert all(not p.grad.any() for p in model.parameters())
    # p = 0.001: 3^(1/0.001) is beyond a float: the norm is inf, not an OverflowError.
    assert get_total_norm(np.ones(3), norm_type=0.001).item() == math.inf


def test_clip_grad_value():
    (a,) = params_with([-3.0, 0.5, 4.0, np.nan, -0.0])
    assert clip_grad_value_([a], 1.0) is None
    assert np.array_equal(a.grad[[0, 1, 2, 4]], [-1.0, 0.5, 1.0, -0.0])
    assert np.isnan(a.grad[3])
    (b,) = params_with(np.array([-3.0, 2.0]), dtype=np.float32)
    clip_grad_value_(b, 0)
    assert b.grad.dtype == np.float32 and np.array_equal(b.grad, [0.0, 0.0])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda p: clip_grad_norm_(p, -1.0), ValueError, "max_norm must be >= 0"),
        (lambda p: clip_grad_norm_(p, float("nan")), ValueError, "max_norm must be >= 0"),
        (lambda p: clip_grad_norm_(p, "1"), TypeError, "max_norm must be a number"),
        (lambda p: clip_grad_norm_(p, 1.0, norm_type=0), ValueError, "positive number or inf"),
        (lambda p: clip_grad_norm_(p, 1.0, norm_type="two"), ValueError, "got 'two'"),
        (lambda p: clip_grad_norm_(p, np.float64(-1)), ValueError, "got -1.0$"),
        (lambda p: clip_grad_norm_(5, 1.0), TypeError, "iterable of them"),
        (lambda p: clip_grad_norm_("weights", 1.0), TypeError, "iterable of them .*'weights'"),
        (lambda p: clip_grad_norm_([np.ones(2)], 1.0), TypeError, "Parameters or Tensors"),
        (lambda p: clip_grad_value_(p, -0.5), ValueError, "clip_value must be >= 0"),
        (lambda p: get_total_norm(p[0].grad, norm_type=-1), ValueError, "get_total_norm: norm"),
        (lambda p: get_total_norm([np.arange(3)]), TypeError, "float arrays or Tensors"),
        (lambda p: get_total_norm(3.0), TypeError, "an iterable of them, got 3.0"),
        (lambda p: ClipGradNorm(-1.0), ValueError, "ClipGradNorm: max_norm must be >= 0"),
    ],
)
def test_bad_arguments_are_named(call, error, message):
    params = params_with([3.0, 4.0])
    kept = params[0].grad.copy()
    with pytest.raises(error, match=message):
        call(params)
    assert np.array_equal(params[0].grad, kept)


class _Spy(cr.train.Callback):
    """Records the gradients' norm each batch, after the callbacks before it."""

    def __init__(self):
        self.norms = []

    def on_backward_end(self, batch):
        self.norms.append(grad_norm(self.context.model.parameters()))


def _model():
    return cr.nn.Sequential(cr.nn.Linear(2, 16, rng=0), cr.nn.ReLU(), cr.nn.Linear(16, 2, rng=1))


def _run(callbacks, epochs=3, lr=0.5, model=None, params=None, **options):
    X, y = cr.data.load("moons", n_samples=120, rng=0)
    model = model or _model()
    optimizer = cr.optim.SGD(params or model.parameters(), lr=lr)
    history = cr.fit(model, X, y, loss="cross-entropy", optimizer=optimizer, epochs=epochs,
                     batch_size=16, verbose=0, rng=0, callbacks=callbacks, **options)  # fmt: skip
    return model, history


def test_fit_clips_every_batch_and_counts_the_clipped_ones():
    before, clip, after = _Spy(), ClipGradNorm(max_norm=0.2), _Spy()
    _run([before, clip, after])
    assert len(before.norms) == len(after.norms) == 3 * 8  # 120 samples in batches of 16
    scaled = [0.2 / (n + 1e-6) < 1 for n in before.norms]
    assert 0 < clip.clipped == sum(scaled) < len(scaled)  # some batches, not all
    for norm, was_scaled, norm_after in zip(before.norms, scaled, after.norms):
        if was_scaled:
            assert norm_after == pytest.approx(0.2 * norm / (norm + 1e-6), rel=1e-5)
        else:
            assert norm_after == norm
    assert clip.state_dict() == {"clipped": clip.clipped}
    fresh = ClipGradNorm(0.2)
    fresh.load_state_dict(clip.state_dict())
    assert fresh.clipped == clip.clipped
    _run([clip])  # another fit counts afresh
    assert clip.clipped == sum(scaled)


def test_fit_clips_with_the_norm_asked_and_keeps_the_norm_from_before():
    # The largest entry of every batch's gradients is capped at 0.01 (norm_type inf).
    before, clip, after = _Spy(), ClipGradNorm(max_norm=0.01, norm_type="inf"), _Spy()
    largest = []
    after.on_backward_end = lambda batch: largest.append(
        max(float(np.abs(p.grad).max()) for p in after.context.model.parameters())
    )
    _run([before, clip, after])
    assert clip.clipped == 24 and max(largest) <= 0.01
    assert clip.last_norm > 0.01 and clip.last_norm == pytest.approx(
        largest[-1] * (clip.last_norm + 1e-6) / 0.01, rel=1e-5
    )


def test_only_the_optimizers_parameters_are_measured_and_clipped():
    # The optimizer steps the last layer alone. The first layer's gradients are never
    # reset by its zero_grad(), so they pile up: they must neither count nor be scaled.
    model = _model()
    first, last = list(model.parameters())[:2], list(model.parameters())[2:]
    clip, seen = ClipGradNorm(max_norm=0.05), _Spy()
    seen.on_backward_end = lambda batch: seen.norms.append(
        (grad_norm(last), grad_norm(first))
    )
    _run([clip, seen], model=model, params=last)
    assert all(norm <= 0.05 * (1 + 1e-6) for norm, _ in seen.norms)
    piled = [norm for _, norm in seen.norms]
    assert piled[-1] > 0.05 and piled == sorted(piled)  # untouched, growing


def test_a_resumed_run_ends_as_an_uninterrupted_one(tmp_path):
    whole, whole_history = _run([clip := ClipGradNorm(0.2)], epochs=3)
    _run([ClipGradNorm(0.2)], epochs=2, checkpoint_dir=tmp_path)
    resumed_clip = ClipGradNorm(0.2)
    resumed, _ = _run([resumed_clip], epochs=3, checkpoint_dir=tmp_path, resume=True)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert np.array_equal(a.data, b.data)
    assert resumed_clip.clipped == clip.clipped > 0


@pytest.mark.parametrize(
    ("then", "now"),
    [((0.2, 2.0), (0.3, 2.0)), ((0.2, 2.0), (0.2, 1.0)), ((0.2, "inf"), (0.2, 2.0))],
)
def test_resuming_with_other_clipping_is_refused_before_anything_is_loaded(tmp_path, then, now):
    """Another max_norm or norm_type could not end as the uninterrupted run: refused,
    naming both, with the model and optimizer left as they were."""
    from chainrule.train.checkpoint import CheckpointMismatchError

    _run([ClipGradNorm(*then)], epochs=1, checkpoint_dir=tmp_path)
    model = _model()
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(CheckpointMismatchError, match="ClipGradNorm") as caught:
        _run([ClipGradNorm(*now)], model=model, epochs=2, checkpoint_dir=tmp_path, resume=True)
    assert caught.value.kind == "callbacks"
    assert f"max_norm={then[0]!r}" in caught.value.detail
    assert f"max_norm={now[0]!r}" in caught.value.detail
    for param, old in zip(model.parameters(), before):
        assert np.array_equal(param.data, old)


@pytest.mark.parametrize("kept", ["none", "empty"])
def test_a_checkpoint_without_settings_still_resumes(tmp_path, kept):
    """Checkpoints written before callbacks kept their settings, or by a callback that
    declared none then, resume as before."""
    from chainrule.train.checkpoint import load_checkpoint, save_checkpoint

    _run([ClipGradNorm(0.2)], epochs=2, checkpoint_dir=tmp_path)
    checkpoint = load_checkpoint(tmp_path)
    for entry in checkpoint.callbacks:
        del entry["settings"]
        if kept == "empty":
            entry["settings"] = {}
    save_checkpoint(tmp_path, checkpoint)
    whole, _ = _run([ClipGradNorm(0.2)], epochs=3)
    resumed, _ = _run([ClipGradNorm(0.2)], epochs=3, checkpoint_dir=tmp_path, resume=True)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert np.array_equal(a.data, b.data)


class _Declares(cr.train.Callback):
    """No state; settings as JSON would not keep them (a tuple, a number as a key)."""

    def __init__(self, rate):
        self.rate = rate

    def settings(self):
        return {"pair": (self.rate, 2), 3: "three"}


def test_settings_compare_as_the_checkpoint_keeps_them_also_without_state(tmp_path):
    from chainrule.train.checkpoint import CheckpointMismatchError

    _run([_Declares(0.5), ClipGradNorm(0.2)], epochs=1, checkpoint_dir=tmp_path)
    _run([_Declares(0.5), ClipGradNorm(0.2)], epochs=2, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointMismatchError, match="_Declares"):
        _run([_Declares(0.9), ClipGradNorm(0.2)], epochs=3, checkpoint_dir=tmp_path, resume=True)


def test_a_malformed_callback_entry_is_an_incomplete_checkpoint(tmp_path):
    from chainrule.io import ModelFileError
    from chainrule.train.checkpoint import load_checkpoint, save_checkpoint

    _run([ClipGradNorm(0.2)], epochs=1, checkpoint_dir=tmp_path)
    checkpoint = load_checkpoint(tmp_path)
    for bad in (5, "x", [0.2]):
        checkpoint.callbacks[0]["settings"] = bad
        save_checkpoint(tmp_path, checkpoint)
        with pytest.raises(ModelFileError, match="incomplete training checkpoint"):
            load_checkpoint(tmp_path)


def test_early_stopping_settings_must_match_to_resume_but_not_its_patience(tmp_path):
    """What was monitored, in which direction and whether the best weights come back give
    the saved best its meaning; a longer patience only lets the resumed run wait longer."""
    from chainrule.train import EarlyStopping
    from chainrule.train.checkpoint import CheckpointMismatchError

    X, y = cr.data.load("moons", n_samples=120, rng=0)

    def run(stopper, epochs, resume=False):
        model = _model()
        sgd = cr.optim.SGD(model.parameters(), lr=0.5)
        cr.fit(model, X, y, loss="cross-entropy", optimizer=sgd,
               epochs=epochs, batch_size=16, verbose=0, rng=0, validation_split=0.25,
               callbacks=[stopper], checkpoint_dir=tmp_path, resume=resume)  # fmt: skip

    run(EarlyStopping(patience=2, restore_best_weights=True), 2)
    run(EarlyStopping(patience=50, restore_best_weights=True), 3, resume=True)
    for changed in (
        EarlyStopping(patience=50, restore_best_weights=False),
        EarlyStopping(monitor="val_accuracy", patience=50, restore_best_weights=True),
        EarlyStopping(patience=50, min_delta=0.1, restore_best_weights=True),
    ):
        with pytest.raises(CheckpointMismatchError, match="EarlyStopping") as caught:
            run(changed, 4, resume=True)
        assert caught.value.settings[0] == "EarlyStopping"


class _Poison(cr.train.Callback):
    """Puts an infinity into the first gradient in the second epoch's first batch."""

    def on_backward_end(self, batch):
        if self.context.epoch == 1 and batch == 0:
            next(iter(self.context.model.parameters())).grad[0, 0] = np.inf


def test_an_infinite_gradient_clipped_to_nan_trips_the_guard():
    # Scaled by max_norm / inf = 0, the infinity becomes NaN (0 * inf), the update makes a
    # NaN weight, and fit's guard puts back the weights from before that update.
    model, history = _run([_Poison(), ClipGradNorm(1.0)], epochs=3)
    assert history.diverged and "NaN or infinite" in history.stop_reason
    assert len(history) == 1  # the first epoch's record; the second stopped at its start
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    one_epoch, _ = _run([ClipGradNorm(1.0)], epochs=1)
    for a, b in zip(model.parameters(), one_epoch.parameters()):
        assert np.array_equal(a.data, b.data)


def test_fit_with_a_limit_never_reached_trains_as_without_one():
    plain, _ = _run([])
    capped, _ = _run([ClipGradNorm(max_norm=1e9)])
    for a, b in zip(plain.parameters(), capped.parameters()):
        assert np.array_equal(a.data, b.data)


def test_clipping_adds_no_copy_of_the_weights_to_the_guards(monkeypatch):
    # fit's guard copies the weights once a batch (to check them); a batch hook that may
    # change the weights costs a second copy before each update. ClipGradNorm changes only
    # gradients, so it costs none.
    from chainrule.train.guard import WeightGuard

    copies = []
    real = WeightGuard._copy_into
    monkeypatch.setattr(
        WeightGuard, "_copy_into", lambda self, into: (copies.append(1), real(self, into))
    )

    class Touch(cr.train.Callback):  # a batch hook, which may change the weights
        def on_batch_end(self, batch, logs):
            pass

    counts = {}
    for name, callbacks in (("none", []), ("clip", [ClipGradNorm(0.2)]), ("hook", [Touch()])):
        copies.clear()
        _run(callbacks)
        counts[name] = len(copies)
    assert counts["none"] == counts["clip"] < counts["hook"]
    assert counts["hook"] - counts["clip"] == 3 * 8 - 3  # one more a batch, but each epoch's first

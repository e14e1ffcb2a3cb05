"""Explaining a PyTorch model's training step, checked against PyTorch's own autograd.

The model and loss are translated (:mod:`chainrule.bridges.pytorch`), the step is
explained by :func:`chainrule.explain.explain` as for any chainrule network, and the
gradients it derived are compared with ``torch.autograd`` run on the original PyTorch
model (with its parameters in the explanation's dtype, the model itself untouched).
The explanation's introduction says that they agree and to what precision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.bridges.pytorch import import_torch, is_torch_tensor, loss_from_torch, translate
from chainrule.explain import Explanation
from chainrule.explain import explain as explain_chainrule

#: The largest difference, relative to the largest gradient entry, at which chainrule's
#: gradients are said to agree with PyTorch's, per dtype of the step: a few hundred
#: roundings of that dtype, as two orders of summation may differ.
AGREEMENT = {"float64": 1e-10, "float32": 1e-4, "float16": 1e-1}


@dataclass(frozen=True)
class TorchAgreement:
    """How closely chainrule's gradients match ``torch.autograd``'s for one step.

    Attributes
    ----------
    parameters : int
        How many parameters were compared.
    max_abs : float
        The largest absolute difference over every gradient entry.
    max_rel : float
        ``max_abs`` divided by the largest absolute gradient entry (0 when every
        gradient is 0).
    dtype : str
        The dtype both computed in.
    """

    parameters: int
    max_abs: float
    max_rel: float
    dtype: str

    @property
    def agrees(self) -> bool:
        return self.max_rel <= AGREEMENT[self.dtype]

    def sentence(self) -> str:
        """The agreement, as the explanation's introduction states it."""
        return (
            f"Translated from a PyTorch model and loss. Checked against PyTorch: the gradients "
            f"of all {self.parameters} parameters agree with torch.autograd's on the original "
            f"model to {self.max_rel:.1e} relative (largest difference {self.max_abs:.1e}, "
            f"in {self.dtype}). Weights are shown as chainrule holds them, (inputs, outputs): "
            "the transpose of PyTorch's Linear.weight."
        )


def explain_torch(
    model: Any,
    x: Any,
    y: Any,
    loss: Any,
    lr: float = 0.1,
    *,
    names: Mapping[str, str] | None = None,
    description: str = "",
    **options: Any,
) -> Explanation:
    """Explain one training step of a ``torch.nn.Sequential`` with a PyTorch loss.

    Takes what :func:`chainrule.explain` takes, with a PyTorch model and loss. The
    step is explained in chainrule's names (``0.weight`` is the first Linear layer's
    weight, of shape ``(in_features, out_features)``); ``names`` may also use the
    PyTorch parameter names. The explanation's introduction says how closely its
    gradients agree with ``torch.autograd``'s (:func:`compare_with_torch` gives the
    numbers). The PyTorch model is not changed.

    Raises
    ------
    TypeError, ValueError
        For a layer or loss chainrule does not have, named (see
        :func:`chainrule.from_torch`).
    RuntimeError
        If the gradients disagree with PyTorch's beyond :data:`AGREEMENT` (a bug).
    """
    translation = translate(model)
    chainrule_loss = loss_from_torch(loss)
    renamed = None
    if names is not None:
        from_torch_name = {torch_name: key for key, (torch_name, _) in translation.sources.items()}
        renamed = {from_torch_name.get(key, key): value for key, value in names.items()}
    explanation = explain_chainrule(
        translation.model, _numpy(x), _numpy(y), chainrule_loss, lr, names=renamed, **options
    )
    agreement = compare_with_torch(explanation, model, loss, translation.sources)
    if not agreement.agrees:
        raise RuntimeError(
            f"chainrule's gradients differ from torch.autograd's by {agreement.max_rel:.1e} "
            f"relative, more than the {AGREEMENT[agreement.dtype]:.0e} {agreement.dtype} allows; "
            "please report this model"
        )
    # The introduction is the one paragraph every rendering shows.
    explanation.description = " ".join(part for part in (description, agreement.sentence()) if part)
    return explanation


def compare_with_torch(
    explanation: Explanation, model: Any, loss: Any, sources: Mapping[str, tuple[str, bool]]
) -> TorchAgreement:
    """Run the explained step's forward and backward in PyTorch and compare the gradients.

    The original module computes, with its parameters replaced (``functional_call``)
    by copies in the explanation's dtype, on the explanation's input and target rows;
    its own parameters and their ``.grad`` are left as they were.
    """
    torch = import_torch()
    trace = explanation.trace
    dtype = trace.input.data.dtype
    torch_dtype = getattr(torch, dtype.name)
    parameters = {
        name: param.detach().to(torch_dtype).clone().requires_grad_(True)
        for name, param in model.named_parameters()
    }
    inputs = torch.from_numpy(np.array(trace.input.data, dtype=dtype))
    # Class labels as one-hot rows: PyTorch's CrossEntropyLoss takes those as well.
    target = torch.from_numpy(np.array(trace.target_rows, dtype=dtype))
    output = torch.func.functional_call(model, parameters, (inputs,))
    value = loss(output, target)
    grads = torch.autograd.grad(value, list(parameters.values()), allow_unused=True)
    torch_grads = dict(zip(parameters, grads))
    max_abs = largest = 0.0
    ours = explanation.gradients
    for key, (torch_name, transposed) in sources.items():
        grad = torch_grads.get(torch_name)
        theirs = np.zeros(ours[key].shape) if grad is None else grad.detach().numpy()
        if transposed:
            theirs = theirs.T
        difference = np.abs(ours[key].astype(np.float64) - theirs.astype(np.float64))
        max_abs = max(max_abs, float(difference.max(initial=0.0)))
        largest = max(largest, float(np.abs(theirs).max(initial=0.0)))
    max_rel = max_abs / largest if largest > 0 else max_abs
    return TorchAgreement(len(sources), max_abs, max_rel, dtype.name)


def _numpy(value: Any) -> Any:
    """A PyTorch tensor as a NumPy array; anything else as it is."""
    return value.detach().cpu().numpy() if is_torch_tensor(value) else value

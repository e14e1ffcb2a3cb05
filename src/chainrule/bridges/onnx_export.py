"""ONNX export: a chainrule model as an ONNX graph, layer by layer through the table.

Built with the ``onnx`` package alone (``pip install "chainrule[onnx]"``; no PyTorch).
A model trained by ``chainrule train`` is exported with what its file stores around
it, as graph nodes, so the exported graph does what ``chainrule predict`` does: it
takes raw feature rows, standardises them as in training, runs the network and
answers in the target's units (a regression) or with each class's probability (a
classifier).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.bridges.equivalents import equivalent_of, flat_layers, float_dtype, layer_arguments
from chainrule.io import ModelFile, Preprocessing, atomic_write
from chainrule.nn import Softmax
from chainrule.nn.layers import Linear
from chainrule.nn.module import Module

#: The ONNX operator set the graphs use (ONNX 1.12, IR version 8): new enough for
#: Softmax along any axis, old enough for every current runtime.
OPSET = 17
IR_VERSION = 8
INPUT_NAME = "features"


def import_onnx() -> Any:
    """The ``onnx`` package, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError(
            'ONNX export needs the onnx package: pip install "chainrule[onnx]"'
        ) from None
    return onnx


def export_onnx(
    model: Module | ModelFile,
    path: str | os.PathLike[str],
    *,
    preprocessing: Preprocessing | None = None,
) -> Path:
    """Write ``model`` to ``path`` as an ONNX graph, atomically.

    The graph's input is named ``features`` and has a dynamic batch dimension
    (``(batch, in_features)``). Its output is ``output``, the network's output,
    for a bare model. With the preprocessing of a model file (pass the
    :class:`~chainrule.io.ModelFile` that :func:`chainrule.io.load_model_file`
    returns, or ``preprocessing=``) the input is raw feature rows in float64, as
    ``chainrule predict`` reads them, standardised by graph nodes; the output is
    ``probabilities`` (the softmax of the outputs) for a classifier and
    ``prediction`` (in the target's units) for a regression. The feature names,
    target and classes are stored in the graph's metadata.

    Parameters
    ----------
    model : Module or ModelFile
        A chainrule Sequential (or one layer) of Linear layers and activations.
    path : str or os.PathLike
        Usually ``*.onnx``; replaced atomically if it exists.
    preprocessing : Preprocessing, optional
        The scaling, target and classes to build in (default: the model file's).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        For a module that is not a chainrule layer type or a layer ONNX cannot
        express, named with its position; for parameters of different dtypes.
    OSError
        If ``path`` cannot be written (nothing is written then).
    ImportError
        If the ``onnx`` package is not installed.
    """
    if isinstance(model, ModelFile):
        preprocessing = preprocessing or model.preprocessing
        model = model.model
    if not isinstance(model, Module):
        raise TypeError(f"export_onnx takes a chainrule model, got {type(model).__name__}")
    proto = build_onnx(model, preprocessing)
    data = proto.SerializeToString()
    atomic_write(path, lambda handle: handle.write(data))
    return Path(path)


def build_onnx(model: Module, preprocessing: Preprocessing | None = None) -> Any:
    """The ONNX ``ModelProto`` :func:`export_onnx` writes, checked by ``onnx.checker``."""
    onnx = import_onnx()
    helper = onnx.helper
    graph = _Graph(onnx, _model_dtype(model))
    prep = preprocessing if preprocessing is not None else Preprocessing()
    # With what a model file stores around the network, the graph works as `chainrule
    # predict` does: in float64 outside the network, in the model's dtype inside.
    wrapped = _wraps(prep)
    outer = np.dtype(np.float64) if wrapped else graph.dtype
    current = INPUT_NAME
    if prep.scaler is not None:
        current = graph.node("Sub", [current, graph.constant("feature_mean", prep.scaler.mean_)])
        current = graph.node("Div", [current, graph.constant("feature_scale", prep.scaler.scale_)])
    if outer != graph.dtype:
        current = graph.node("Cast", [current], to=graph.onnx_type(graph.dtype))
    layers = list(flat_layers(model))
    for position, layer in layers:
        current = graph.layer(layer, position, current)
    linears = [layer for _, layer in layers if isinstance(layer, Linear)]
    # Activations keep the width: the Linear layers fix it (a model of none leaves it open).
    in_width = linears[0].in_features if linears else "in_features"
    out_width = linears[-1].out_features if linears else "in_features"
    if outer != graph.dtype:
        current = graph.node("Cast", [current], to=graph.onnx_type(outer))
    output_name = graph_output(prep)
    if output_name == "probabilities":
        # `chainrule predict` takes the softmax of the outputs: one more layer, in float64.
        current = graph.layer(Softmax(), "probabilities", current)
    elif prep.target_scaler is not None:
        target = prep.target_scaler
        current = graph.node("Mul", [current, graph.constant("target_scale", target.scale_)])
        current = graph.node("Add", [current, graph.constant("target_mean", target.mean_)])
    graph.name_output(current, output_name)
    features = ", ".join(prep.feature_names or [])
    inputs = [
        helper.make_tensor_value_info(
            INPUT_NAME,
            graph.onnx_type(outer),
            ["batch", in_width],
            doc_string=f"raw feature rows: {features}" if features else "input rows",
        )
    ]
    outputs = [
        helper.make_tensor_value_info(output_name, graph.onnx_type(outer), ["batch", out_width])
    ]
    body = helper.make_graph(graph.nodes, "chainrule", inputs, outputs, graph.initializers)
    proto = helper.make_model(
        body,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="chainrule",
        doc_string=repr(model),
    )
    proto.ir_version = IR_VERSION
    metadata = {
        "feature_names": prep.feature_names,
        "target_name": prep.target_name,
        "task": prep.task,
        "classes": prep.classes,
    }
    helper.set_model_props(
        proto, {key: json.dumps(value) for key, value in metadata.items() if value is not None}
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _wraps(prep: Preprocessing) -> bool:
    return prep.task is not None or prep.scaler is not None or prep.target_scaler is not None


def graph_output(preprocessing: Preprocessing | None) -> str:
    """The name of the graph's output: ``probabilities`` for a classifier's model file,
    ``prediction`` for another model file's, ``output`` for a bare model."""
    prep = preprocessing if preprocessing is not None else Preprocessing()
    if prep.task == "classification" and prep.classes:
        return "probabilities"
    return "prediction" if _wraps(prep) else "output"


def _model_dtype(model: Module) -> np.dtype[Any]:
    dtypes = {param.dtype for param in model.parameters()}
    if len(dtypes) > 1:
        shown = ", ".join(sorted(str(dtype) for dtype in dtypes))
        raise TypeError(
            f"the model mixes parameter dtypes ({shown}); an ONNX graph computes in one: "
            "convert the model first (model.to(np.float32))"
        )
    return float_dtype(dtypes.pop() if dtypes else np.float32, "the model")


class _Graph:
    """The nodes and initializers of the graph being built, with fresh value names."""

    def __init__(self, onnx: Any, dtype: np.dtype[Any]) -> None:
        self.onnx = onnx
        self.dtype = dtype
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def onnx_type(self, dtype: np.dtype[Any]) -> int:
        return int(self.onnx.helper.np_dtype_to_tensor_dtype(dtype))

    def constant(self, name: str, values: np.ndarray, dtype: Any = np.float64) -> str:
        array = np.asarray(values, dtype=dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(
        self, op: str, inputs: list[str], *, output: str | None = None, **attrs: Any
    ) -> str:
        self._count += 1
        output = output or f"{op.lower()}_{self._count}"
        self.nodes.append(
            self.onnx.helper.make_node(op, inputs, [output], name=f"{op}_{self._count}", **attrs)
        )
        return output

    def name_output(self, value: str, name: str) -> None:
        """Give ``value``, the graph's result, its public name."""
        if self.nodes and self.nodes[-1].output[0] == value:
            self.nodes[-1].output[0] = name
        else:  # the input itself (a model of Identity layers)
            self.node("Identity", [value], output=name)

    def layer(self, layer: Module, position: str, current: str) -> str:
        row = equivalent_of(layer, position)
        if isinstance(layer, Linear):
            weight = self.constant(f"{position}.weight", layer.weight.data, self.dtype)
            if layer.bias is None:
                return self.node("MatMul", [current, weight])
            # Gemm broadcasts a bias of shape (1,) over every neuron: the shared bias.
            bias = self.constant(f"{position}.bias", layer.bias.data, self.dtype)
            return self.node(row.onnx_op, [current, weight, bias])
        schema = self._schema(row.onnx_op, type(layer).__name__, position)
        attrs = {row.onnx_attribute(k): v for k, v in layer_arguments(layer).items()}
        missing = sorted(set(attrs) - set(schema.attributes))
        if missing:
            raise TypeError(
                f"{type(layer).__name__} at position {position} cannot be exported: ONNX's "
                f"{row.onnx_op} has no attribute {', '.join(missing)}"
            )
        inexact = [
            value for value in attrs.values()
            if isinstance(value, float) and float(np.float32(value)) != value
        ]
        if inexact and self.dtype.itemsize > 4 and row.onnx_op in _IN_MODEL_DTYPE:
            return _IN_MODEL_DTYPE[row.onnx_op](self, current, attrs)
        return self.node(row.onnx_op, [current], **attrs)

    def _schema(self, op: str, name: str, position: str) -> Any:
        try:
            return self.onnx.defs.get_schema(op, OPSET)
        except self.onnx.defs.SchemaError:
            raise TypeError(
                f"{name} at position {position} cannot be exported: ONNX has no {op} "
                f"operator (opset {OPSET})"
            ) from None


def _leaky_relu_in_model_dtype(graph: _Graph, current: str, attrs: dict[str, Any]) -> str:
    # max(z, alpha * z) is LeakyRelu for slopes from 0 to 1 (those chainrule allows), with
    # alpha a constant of the model's dtype instead of a 32-bit attribute.
    alpha = graph.constant(f"alpha_{graph._count}", np.asarray(attrs["alpha"]), graph.dtype)
    scaled = graph.node("Mul", [current, alpha])
    return graph.node("Max", [current, scaled])


#: ONNX stores a float attribute in 32 bits. For a float64 model whose attribute is not a
#: float32 number, these write the operator's computation with the attribute as a
#: constant of the model's dtype, so the graph computes what chainrule does.
_IN_MODEL_DTYPE = {"LeakyRelu": _leaky_relu_in_model_dtype}

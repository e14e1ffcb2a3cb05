"""Pictures of training: loss curves, decision boundaries, gradient flow and animations.

The pictures need matplotlib and pillow (``pip install chainrule[viz]``); they
are imported only when a picture is drawn, so ``import chainrule`` and
``import chainrule.viz`` need NumPy alone. :func:`gradient_flow` itself (the
numbers and the text table) needs NumPy only.
"""

from chainrule.viz.animate import animate_descent
from chainrule.viz.training import plot_decision_boundary, plot_history, plot_predictions
from chainrule.viz.vanishing import GradientFlow, gradient_flow

__all__ = [
    "GradientFlow",
    "animate_descent",
    "gradient_flow",
    "plot_decision_boundary",
    "plot_history",
    "plot_predictions",
]


"""Qt-free core: checkpoints, the op graph, signatures, presets, layout and export.

Nothing in this package imports PySide6, and modules that only describe a graph
import TensorFlow lazily (see `app.core.tf_runtime`).
"""

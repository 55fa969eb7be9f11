"""Qt-free core, one package (room) per concern, importing down its layers only.

From the bottom up: graph, signature, disk, serving, rewrite, proposal, samples, validation,
`loader`, export, watch; errors, dtypes, memory and tf_runtime at the top are shared by all
(`tests/test_project.py`'s `CORE_LAYERS` checks the direction). Nothing in this package
imports PySide6, and modules that only describe a graph import TensorFlow lazily (see
`app.core.tf_runtime`).
"""

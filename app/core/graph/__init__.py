"""The op graph: protos, the op-graph model, the op registry, search, names, series, layout.

May import the shared modules at the top of `app.core` only (errors, dtypes, memory, tf_runtime).
"""

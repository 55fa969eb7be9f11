"""Serving a SavedModel: the C-API session, the staged session, the serving model, REST JSON.

May import `graph`, `signature`, `disk` and the shared top modules (errors, tf_runtime).
"""

"""The Qt layer: one package per thing the user works with, assembled by `shell`.

Features (browse, graph, signature, run, export) import `app.core`, their own package and
`common` only; `shell` alone imports features (tests/test_project.py checks it)."""

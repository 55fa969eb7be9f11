"""A draft's validation: every problem of a signature, the rewrites' and the REST checks among them.

May import every room below it (graph … samples) and the top modules; `loader`, `export`
and `watch` import it.
"""

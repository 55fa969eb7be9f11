"""A draft's validation: every problem of a signature, the rewrites' and the REST checks among them.

May import `graph`, `signature`, `serving`, `rewrite`, `proposal`, `samples` and the top modules.
"""

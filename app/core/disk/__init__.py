"""Reading what is on disk: checkpoints, the `.index` bundle, variables, `.meta`, SavedModels.

May import `graph`, `signature` (a SavedModel's signatures as a draft) and the top modules.
"""

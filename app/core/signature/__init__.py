"""The signature: the export draft and its types, presets, the static checks of an output's path.

May import `graph` and the shared top modules only (the draft's validation is in `validation`).
"""

"""Exporting: the Export dialog, the kept-warm export process, the result page and the
export log. Imports app.core, export and common only."""

"""Browsing a checkpoint: the op tree with its search box, row icons and delegate, the
Details and Checkpoint summary panels. Imports app.core, browse and common only."""

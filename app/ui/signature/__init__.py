"""Building the signature: editor, slot models, undo commands, presets, autosave and the
training-to-serving section. Imports app.core, signature and common only."""

"""The window around the features: main window, launch, about, empty state, open dialog,
help, platform check. The only package that imports the features (and common)."""

"""Trying the model: the Try-it panel that runs a signature on sample inputs in a worker.
Imports app.core, run and common only."""

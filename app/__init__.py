"""Signet: TensorFlow 1.x checkpoints to servable, verified SavedModels."""

__version__ = "0.1.0"

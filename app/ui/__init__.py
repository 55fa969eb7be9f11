"""The Qt layer: presents `app.core` and runs its long jobs in worker threads."""

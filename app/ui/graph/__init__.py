"""The graph view: scene, items, overview map and the panel that lays them out in a worker.
Imports app.core, graph and common only."""

"""Checkpoint: a trained or pruned model on disk, and the smaller file it exports to.

``model_file`` (``model.safetensors``: plain state dict, config in its
metadata, mask beside it), ``nmtz`` (the self-contained ``.nmtz`` format:
packed bitmasks + kept values), ``export`` (checkpoint -> ``.nmtz``, sizes per
class), ``load`` (one loader for every model file).
"""

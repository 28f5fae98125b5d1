"""The study's figures, by what they show: ``sparsity`` (quality against sparsity),
``classes`` (per weight class), ``sentences`` (per sentence), ``snip`` (SNIP
training); ``common`` holds what they share."""

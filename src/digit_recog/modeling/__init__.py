"""Models and how they are made: builders (``cnn``, ``architectures``), named recipes (``presets``),
training (``train``), ensembles (``ensemble``) and saving a model for others to load (``export``)."""

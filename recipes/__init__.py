"""keras-cookbook's pages: neural-network architectures for Keras 3, each built with the Sequential
and the Functional API, on TensorFlow, JAX and PyTorch.

Every ``recipes/<name>.py`` is a recipe: a file you can copy alone into your own project (it needs
only ``keras``, ``numpy`` and the standard library, never the rest of this project). This package
holds nothing else; the harness that lists, trains and inspects them is the ``cookbook`` package
(the catalogue, ``registry()``, lives in ``cookbook.catalogue``).
"""

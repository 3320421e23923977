"""Training: the step loop, task samplers, loss weightings, optimisers, evaluation.

The front door (``auxlearn/__init__.py``) makes this package callable, ``auxlearn.train(exp, out_dir)``, since
the package holds the name its verb would have; the package itself imports nothing.
"""

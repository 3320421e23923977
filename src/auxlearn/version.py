"""auxlearn's version, in a leaf module: the package's front door (``auxlearn/__init__.py``) stands above every
module, so a module that records the version (in results.json, in a saved model) reads it here."""

__version__ = "0.1.0"

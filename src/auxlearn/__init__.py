"""auxlearn: find which auxiliary tasks help a primary NLP task, mix them, and train the multi-task model."""

__version__ = "0.1.0"

"""Auxiliary-task and instance selection: which candidate tasks (and which of their examples) help the primary task."""

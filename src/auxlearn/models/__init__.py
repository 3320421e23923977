"""Models: the shared encoder, one head per task, saving and loading."""

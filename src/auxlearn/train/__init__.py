"""Training: the step loop, task samplers, optimisers, evaluation."""

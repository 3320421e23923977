"""Mixing ratios: how often each selected task is trained, searched by Bayesian optimisation or at random."""

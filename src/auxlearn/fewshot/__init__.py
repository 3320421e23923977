"""Few-shot adaptation after multi-task pre-training of skills and routing (MTTL): ``auxlearn adapt``.

The package straddles two layers: ``arms/``, the plug-in family of few-shot arms that the config validates
``fewshot.arms`` against, below the config; ``adaptation.py``, which pre-trains and adapts every arm, beside the
pipeline. So it imports neither here.
"""

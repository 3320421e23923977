"""AANG, auxiliary objectives generated from the primary's own text and weighted while it trains (Dery et al.,
ICLR 2023), all of it in this package. Its modules stand at the layers of what they are (pyproject.toml):

- ``objectives/``: the factored objective space (input, transform, attention pattern, output), its token
  transforms, attention masks and batches; below the tasks, which train an objective as a task;
- ``factors.py``: the factored weights and how a step's auxiliary batch is shared by them;
- ``dev_gradient.py``: the primary's dev gradient that ``aang`` weighs objectives against;
- ``head_warmup.py``: LM heads fitted on their text with the encoder frozen before it trains (``objectives``);
- ``weighting.py``: the loss weightings ``aang_static`` and ``aang``, listed in ``train.weightings.WEIGHTINGS``;
- ``mixer.py``, ``mixer_report.py``: the mixers ``aang`` and ``aang_static`` (listed in ``mix.MIXERS``), which
  generate the objectives for a run's final model, and what the report shows of them.

The package itself imports nothing, so that the tasks can read the objective space without the methods.
"""

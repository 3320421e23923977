"""auxlearn: find which auxiliary tasks help a primary NLP task, mix them, and train the multi-task model.

The front door of the Python API, the command line's steps and what they return (docs/api/index.md):

    import auxlearn

    exp = auxlearn.load_experiment("examples/rte_mtl.yaml", ["seeds=[0]"])
    results = auxlearn.train(exp, "runs/rte_mtl")      # one arm; results.json's content
    run = auxlearn.run(exp, "runs/rte_run")            # `auxlearn run`: baseline, select, mix, final
    auxlearn.report("runs/rte_run")                    # report.html and report.md

Every name is imported on first use (``__getattr__`` below), so that ``import auxlearn`` loads neither torch nor
the training code. This module stands above every layer of the package and none imports it (the version is in
``version.py``), so its imports on demand close no cycle.

``auxlearn.train`` and ``auxlearn.report`` are also the packages of those names, and Python sets a package's
attribute to its subpackage once that is imported, whatever a function of the same name said before: so the
packages themselves are callable. The train package is made so here (it is empty, cheap to import); the report
package makes itself so (``report/__init__.py``), as importing it loads the reports.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from auxlearn import train as _train
from auxlearn.version import __version__

if TYPE_CHECKING:
    from auxlearn.config import Experiment
    from auxlearn.prepared import Prepared

__all__ = ["AuxlearnError", "Experiment", "Mixture", "MultiTaskModel", "Prepared", "Selection", "__version__",
           "evaluate", "experiment_from_dict", "load_experiment", "predict", "prepare", "report", "run", "train"]


class _TrainPackage(ModuleType):
    """The package ``auxlearn.train``, called: ``auxlearn.train(exp, out_dir)`` trains the experiment's arm."""

    def __call__(self, exp: Experiment, out_dir: Any = None, prepared: Prepared | None = None,
                 save_model: bool = True, score_eval: bool = True) -> dict[str, Any]:
        """Train ``exp``'s arm (its protocol's phases over its budget) into ``out_dir`` (None: nowhere); return
        its results.json's content. ``prepared``: the data ``auxlearn.prepare`` encoded, reused. See
        ``auxlearn.experiment.train_experiment``."""
        from auxlearn.experiment import train_experiment

        return train_experiment(exp, out_dir, prepared, save_model=save_model, score_eval=score_eval)


_train.__class__ = _TrainPackage


def __getattr__(name: str) -> Any:
    """The front door's names, imported when first asked for (then kept in this module)."""
    if name == "load_experiment":
        from auxlearn.config_files import load_experiment as value
    elif name == "experiment_from_dict":
        from auxlearn.config import experiment_from_dict as value
    elif name == "Experiment":
        from auxlearn.config import Experiment as value
    elif name in ("prepare", "Prepared"):
        import auxlearn.prepared as prepared

        value = getattr(prepared, name)
    elif name == "run":
        from auxlearn.pipeline import run_pipeline as value
    elif name == "report":
        import auxlearn.report as value
    elif name in ("evaluate", "predict"):
        from auxlearn.inference import evaluate_model, predict_file

        value = evaluate_model if name == "evaluate" else predict_file
    elif name == "Selection":
        from auxlearn.select import Selection as value
    elif name == "Mixture":
        from auxlearn.mixer_base import Mixture as value
    elif name == "MultiTaskModel":
        from auxlearn.models.multitask import MultiTaskModel as value
    elif name == "AuxlearnError":
        from auxlearn.errors import AuxlearnError as value
    else:
        raise AttributeError(f"module 'auxlearn' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

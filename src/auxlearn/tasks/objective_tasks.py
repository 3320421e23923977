"""An objective is trained as a task named ``input/transform/attention/output``: its input task's text (and, for a
supervised output, labels), its own head, and batches made by its objective (``aang/objectives/batches.py``).

``citation_intent/bert/bidirectional/denoise`` is TAPT's masked LM on citation_intent's text, with an LM head of
its own (AANG gives every denoising objective its own copy of the LM head); ``citation_intent/mask/bidirectional/
citation_intent`` predicts citation_intent's labels from text with 15 % of its tokens masked, with a classifier
head of its own. Such names go wherever a task name goes (``auxiliary:``, a sampler's ratios), and the ``aang``
mixer generates them from a search space.
"""

from __future__ import annotations

from typing import Mapping, Optional

from auxlearn.errors import AuxlearnError
from auxlearn.aang.objectives.attention import PATTERNS
from auxlearn.aang.objectives.space import DENOISE, Objective, illegal_reason
from auxlearn.aang.objectives.transforms import TRANSFORMS
from auxlearn.tasks.spec import TaskSpec


def objective_spec(name: str, known: Mapping[str, TaskSpec]) -> Optional[TaskSpec]:
    """The task that trains the objective ``name`` names, or None when ``name`` is not an objective's name."""
    objective = Objective.parse(name)
    if objective is None:
        return None
    where = f"objective {name!r}"
    for value, allowed, factor in ((objective.transform, TRANSFORMS, "transform"),
                                   (objective.attention, PATTERNS, "attention pattern")):
        if value not in allowed:
            raise AuxlearnError(f"{where}: unknown {factor} {value!r}; known: {', '.join(allowed)}")
    if objective.input not in known:
        raise AuxlearnError(f"{where}: its input {objective.input!r} is not a known task")
    text = known[objective.input]
    supervised = frozenset(n for n, s in known.items() if s.task_type.labelled)
    reason = illegal_reason(objective, supervised)
    if reason is not None:
        raise AuxlearnError(f"{where} is not in the objective space: {reason}")
    if objective.output != DENOISE:  # the input task's own labels, read from its transformed text
        return text.model_copy(update={"name": name, "objective": objective, "replaces": False})
    return TaskSpec(name=name, type="masked_lm", text_fields=text.text_fields, max_length=text.max_length,
                    source=text.source, objective=objective)

"""Which cells an atlas needs, given the cells done so far: a pure function, so every worker that looks at the
same storage plans the same cells.

Each pair trains ``seeds.initial`` seeds, then one more at a time while its gain over the primary alone has a 95 %
interval across zero and a mean at least ``widen_at`` from zero, up to ``seeds.max``. The primary alone trains
every seed a pair of its row needs; a control (the primary alone for a pair's total steps) every seed of the pairs
that trained that long. A primary in ``both_protocols`` adds, per pair, the protocol ``auto`` did not pick, known
once the pair's first seed has said which ``auto`` chose.
"""

from __future__ import annotations

from typing import Any, Mapping

from auxlearn.atlas.config import Atlas, Cell
from auxlearn.atlas.table import has_control
from auxlearn.stats import paired_t

OTHER_PROTOCOL = {"joint": "sequential", "sequential": "joint"}


def plan_cells(atlas: Atlas, done: Mapping[str, Mapping[str, Any]]) -> list[Cell]:
    """Every cell the atlas needs now (done ones included), seed by seed: the first seed of every cell comes before
    any second seed, so an atlas stopped part-way has a first estimate of every gain."""
    cells: list[Cell] = []
    first = atlas.seed
    for primary in atlas.config.primaries:
        baseline_steps = atlas.baseline_steps(primary)
        groups = [(c, None) for c in atlas.candidates_of(primary)]
        if primary in atlas.config.both_protocols:
            for candidate in atlas.candidates_of(primary):
                chosen = done.get(Cell(primary, "pair", first, candidate).key, {}).get("protocol")
                if chosen in OTHER_PROTOCOL:
                    groups.append((candidate, OTHER_PROTOCOL[chosen]))
        alone_seeds = set(range(first, first + atlas.config.seeds.initial))
        control_seeds: dict[int, set[int]] = {}
        for candidate, protocol in groups:
            seeds = _pair_seeds(atlas, done, primary, candidate, protocol)
            alone_seeds |= seeds
            for seed in seeds:
                cells.append(Cell(primary, "pair", seed, candidate, protocol))
                steps = done.get(Cell(primary, "pair", seed, candidate, protocol).key, {}).get("planned_steps")
                if has_control(steps, baseline_steps):
                    control_seeds.setdefault(int(steps), set()).add(seed)
        cells += [Cell(primary, "alone", seed) for seed in alone_seeds]
        cells += [Cell(primary, "control", seed, steps=steps) for steps, seeds in control_seeds.items()
                  for seed in seeds]
    kinds = {"alone": 0, "pair": 1, "control": 2}
    rows = list(atlas.config.primaries)
    return sorted(cells, key=lambda c: (c.seed, rows.index(c.primary), kinds[c.kind], c.key))


def _pair_seeds(atlas: Atlas, done: Mapping[str, Mapping[str, Any]], primary: str, candidate: str,
                protocol: str | None) -> set[int]:
    settings, first = atlas.config.seeds, atlas.seed
    n = settings.initial
    while n < settings.max:
        seeds = range(first, first + n)
        pair = [done.get(Cell(primary, "pair", s, candidate, protocol).key) for s in seeds]
        alone = [done.get(Cell(primary, "alone", s).key) for s in seeds]
        if not all(pair) or not all(alone):
            break  # the seeds so far are not all in: no decision yet
        gain = paired_t({str(s): a["score"] for s, a in zip(seeds, alone)},
                        {str(s): p["score"] for s, p in zip(seeds, pair)})
        straddles = gain.low is not None and gain.low <= 0 <= gain.high
        if not (straddles and abs(gain.mean) >= settings.widen_at):
            break
        n += 1
    return set(range(first, first + n))

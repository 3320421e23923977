"""`none` keeps no auxiliary task; `all` keeps every candidate (all-task MTL, the usual strong baseline)."""

from __future__ import annotations

from auxlearn.select.base import Selection, Selector


class NoneSelector(Selector):
    name = "none"

    def select(self, stage):
        return Selection(self.name, [])


class AllSelector(Selector):
    name = "all"

    def select(self, stage):
        return Selection(self.name, stage.candidates)

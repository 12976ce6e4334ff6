"""The AI budget of an analysis run, shared safely by all its chunks on every worker.

One ``AIBudget`` row per plan. Each request reserves its estimated cost before it is sent,
in one conditional UPDATE (``spent + reserved + estimate <= limit``): the database
serialises concurrent reservations from any number of processes and machines, so the run
never commits to more than its limit. When its answer comes back the reservation becomes
the real cost. A chunk whose request does not fit marks the budget ``reached``, and from
then on every reservation fails: all chunks stop sending.
"""

from dataclasses import dataclass

from django.db.models import F

from analysis.models import AIBudget


@dataclass(frozen=True)
class SharedBudget:
    plan_id: int

    @classmethod
    def create(cls, plan_id: int, limit_usd: float) -> "SharedBudget":
        AIBudget.objects.create(plan_id=plan_id, limit_usd=limit_usd)
        return cls(plan_id)

    def _row(self):
        return AIBudget.objects.filter(plan_id=self.plan_id)

    def reserve(self, amount: float) -> bool:
        """Reserve ``amount`` USD for a request about to be sent; False when it does not fit
        (or the budget was reached), and then nothing is reserved."""
        return bool(self._row().filter(
            reached=False, limit_usd__gte=F("spent_usd") + F("reserved_usd") + amount,
        ).update(reserved_usd=F("reserved_usd") + amount))

    def settle(self, reserved: float, spent: float) -> None:
        """A request came back: its reservation becomes what it really cost."""
        self._row().update(reserved_usd=F("reserved_usd") - reserved,
                           spent_usd=F("spent_usd") + spent)

    def mark_reached(self) -> None:
        """Stop every chunk: no reservation succeeds any more."""
        self._row().update(reached=True)

    @property
    def reached(self) -> bool:
        return self._row().filter(reached=True).exists()

"""Where a plan stands: in force, a draft (ontwerp), superseded, or unknown — one rule for every part.

The location check leaves drafts and superseded plans out of its facts and verdict (services.articles), and the
bouwenvelop is built from the plans that are law only (etl.envelopes): both classify with :func:`plan_states`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Planstatus values (IMRO codelists, STOP procedure) → where the plan stands.
IN_FORCE = {"vastgesteld", "onherroepelijk", "geconsolideerd", "inwerking", "deels onherroepelijk"}
DRAFTS = {"ontwerp", "voorontwerp", "concept", "ontwerpbesluit"}
# States that are no law at the point: never (superseded), or only when drafts are asked for (ontwerp).
NOT_LAW = {"vervangen", "ontwerp"}


def _stem(plan_id: str) -> str:
    """'NL.IMRO.0664.BPBS03-ON99' → 'NL.IMRO.0664.BPBS03': the plan without its version suffix."""
    return plan_id.rsplit("-", 1)[0] if "-" in plan_id else plan_id


def plan_states(plans: Mapping[Any, Mapping[str, Any]]) -> dict[Any, str]:
    """Plan key → in_werking | ontwerp | vervangen | onbekend, from each plan's plan_id, plan_status and
    plan_datum. A plan in force is superseded (vervangen) by a later-dated version of the same plan (same id
    before the version suffix) that is in force too."""
    raw = {k: str(p.get("plan_status") or "").strip().lower() for k, p in plans.items()}
    states = {k: "in_werking" if s in IN_FORCE else "ontwerp" if s in DRAFTS else "onbekend" for k, s in raw.items()}
    for k, p in plans.items():
        if states[k] != "in_werking" or not p.get("plan_id"):
            continue
        for k2, p2 in plans.items():
            if (k2 != k and states[k2] == "in_werking" and p2.get("plan_id")
                    and _stem(p2["plan_id"]) == _stem(p["plan_id"])
                    and str(p2.get("plan_datum") or "") > str(p.get("plan_datum") or "")):
                states[k] = "vervangen"
    return states

"""What may happen to a flag once people look at it: the review and appeal states.

    pending --confirm/dismiss/case--> confirmed | dismissed | case   (a reviewer; may decide again)
    confirmed | case --appeal--> appealed                            (the agent, 申诉)
    appealed --upheld/overturned--> upheld | overturned              (a lead settles it; final)

Who may do what (checked in `Store.transition`, whatever a page offered or a form claimed):

    reviewer  confirm, dismiss, case
    lead      the same, and settle appeals (upheld / overturned); a lead with a team only that team's
    agent     appeal, only a flag on their own call
    admin     nothing here: accounts (`callaudit users`)

The trusted local path (the CLI's `--by`, the page on loopback before any account exists) is
not checked: it is whoever runs callaudit on the workspace's machine (role "local").

Every transition is kept with who, when and why (history, never overwritten). What counts:
the reviewed score follows the reviewer's decision; the final score also drops a flag whose
appeal was upheld for the agent (overturned).
"""

from __future__ import annotations

from audit.errors import AuditError

DECISIONS = {"confirm": "confirmed", "dismiss": "dismissed", "case": "case"}
RESOLUTIONS = {"upheld": "upheld", "overturned": "overturned"}
DECIDABLE = ("pending", "confirmed", "dismissed", "case")
APPEALABLE = ("confirmed", "case")
STATES = ("pending", "confirmed", "dismissed", "case", "appealed", "upheld", "overturned")
WAITING = ("pending", "appealed")  # someone still has to act
LOCAL_ROLE = "local"  # the trusted local path: the CLI, or the page on loopback with no accounts
ROLE_ACTIONS = {
    "reviewer": tuple(DECISIONS),
    "lead": (*DECISIONS, *RESOLUTIONS),
    "agent": ("appeal",),
    "admin": (),
}


class ReviewError(AuditError):
    """A transition the review flow does not allow (the message names the flag and why)."""


class ReviewConflict(ReviewError):
    """Someone else moved the flag after the decider looked at it (nothing was written)."""

    def __init__(self, flag_key: str, state: str, by: str, at: str):
        self.flag_key, self.state, self.by, self.at = flag_key, state, by, at
        super().__init__(f"flag {flag_key} was changed meanwhile by {by or 'someone'} at {at}: it is {state} now; "
                         "nothing was written, look again and decide")


_STEP = {"confirm": "confirm a flag", "dismiss": "dismiss a flag", "case": "mark a typical case", "appeal": "appeal",
         "upheld": "settle an appeal", "overturned": "settle an appeal"}


class ReviewForbidden(ReviewError):
    """The account's role may not take this step on this flag (nothing was written)."""


def authorize(flag_key: str, action: str, role: str, agent_id: str | None, team: str | None,
              call_agent_id: str | None, call_team: str | None) -> None:
    """Refuse (ReviewForbidden) what this role may not do to this flag: the rule of who does what,
    applied by the store on every transition of a signed-in account."""
    if action not in ROLE_ACTIONS.get(role, ()):
        article = "an" if role[:1] in "aeiou" else "a"
        raise ReviewForbidden(f"flag {flag_key}: {article} {role} account may not {_STEP.get(action, action)} "
                              f"({article} {role} may: {', '.join(ROLE_ACTIONS.get(role, ())) or 'no review step'})")
    if role == "agent" and (not agent_id or str(call_agent_id) != str(agent_id)):
        raise ReviewForbidden(f"flag {flag_key}: an agent may appeal only flags on their own calls")
    if role == "lead" and action in RESOLUTIONS and team and call_team != team:
        raise ReviewForbidden(f"flag {flag_key}: this lead settles appeals of team {team} only")


def may(action: str, role: str, agent_id: str | None, team: str | None, call_agent_id, call_team) -> bool:
    """Whether `authorize` lets this through (what a page offers; the store still decides)."""
    try:
        authorize("", action, role, agent_id, team, call_agent_id, call_team)
    except ReviewForbidden:
        return False
    return True


def next_state(flag_key: str, state: str, action: str) -> str:
    if action in DECISIONS:
        if state not in DECIDABLE:
            raise ReviewError(f"flag {flag_key} is {state}: a decision can no longer change"
                              + (" until the appeal is resolved" if state == "appealed" else " (its appeal was settled)"))
        return DECISIONS[action]
    if action == "appeal":
        if state not in APPEALABLE:
            raise ReviewError(f"flag {flag_key} is {state}: only a confirmed flag (or typical case) can be appealed")
        return "appealed"
    if action in RESOLUTIONS:
        if state != "appealed":
            raise ReviewError(f"flag {flag_key} is {state}: there is no appeal to resolve")
        return RESOLUTIONS[action]
    raise ReviewError(f"unknown review action {action!r} (confirm, dismiss, case, appeal, upheld, overturned)")


def counts_finally(state: str | None) -> bool | None:
    """After appeals: False when the appeal was upheld for the agent, else None (the decision stands)."""
    return False if state == "overturned" else None

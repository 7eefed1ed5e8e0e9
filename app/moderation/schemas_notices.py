"""The community's wording for what a member is told (`notify`), one template per outcome."""

from __future__ import annotations

from string import Template
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from app.core.schemas import RequestModel

PLACEHOLDERS = ("member", "community", "what", "until", "reason")
_NAMES = "|".join(PLACEHOLDERS)
# `$name` (not followed by more of a name), `${name}`, `$$` for a dollar sign, anything else
# but `$` and NUL: exactly what `string.Template` substitutes with these names.
NOTICE_PATTERN = rf"^(?:[^$\x00]|\$\$|\$(?:{_NAMES})(?![_a-zA-Z0-9])|\$\{{(?:{_NAMES})\}})*$"
Notice = Annotated[str, StringConstraints(min_length=1, max_length=1_000, pattern=NOTICE_PATTERN)]


class MemberNotices(RequestModel):
    """What a member is told when a decision, sanction or appeal decision says `notify`:
    the outcome's sentence, then the sanction's, then `reason` (when one was given), then
    the tone's sign-off. Placeholders: `$member` (their display name), `$community`,
    `$what` (post, thread or account), `$until` ("until 2026-12-01 14:00 UTC", or "for
    good"), `$reason`; `$$` is a dollar sign. Fields left out keep their default."""

    # Lookahead in the pattern: the Python engine (Rust's regex has none).
    model_config = ConfigDict(regex_engine="python-re")

    approve: Notice = "Your $what was reviewed and approved."
    dismiss: Notice = "Your $what was reviewed; no action was taken."
    hide: Notice = "Your $what was hidden by a moderator."
    remove: Notice = "Your $what was removed by a moderator."
    warn: Notice = "This is a warning from the $community moderators."
    mute: Notice = "You are muted in $community $until."
    suspend: Notice = "Your $community account is suspended $until."
    ban: Notice = "You are banned from $community $until."
    appeal_upheld: Notice = "Your appeal was reviewed; the decision stands."
    appeal_overturned: Notice = "Your appeal was accepted; the sanction is lifted."
    reason: Notice = Field("Reason: $reason", description="Added when a reason was given.")

    @field_validator("*", mode="before")
    @classmethod
    def _known_placeholders(cls, value: Any) -> Any:
        # Before the pattern, to say what is wrong in words rather than as the pattern.
        if not isinstance(value, str) or "$" not in value:
            return value
        template = Template(value)
        unknown = [name for name in template.get_identifiers() if name not in PLACEHOLDERS]
        if unknown or not template.is_valid():
            shown = f"unknown placeholder ${unknown[0]}" if unknown else "a stray $"
            raise ValueError(
                f"{shown}: use {', '.join('$' + p for p in PLACEHOLDERS)}, or $$ for a dollar sign"
            )
        return value

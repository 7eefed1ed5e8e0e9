"""Emoji as reaction keys: a shortcode or a character in, one canonical character out.

`thumbsup`, `+1`, `thumbs_up`, 👍 and an unqualified ❤ (no variation selector) all name one
emoji each; storing whatever the client sent would count them as different reactions. The
`emoji` package (Unicode's emoji data with CLDR names and GitHub/Slack aliases) decides what
is an emoji; the canonical key is the fully-qualified character, which every client can
render and which sorts and compares as one string.
"""

from __future__ import annotations

import functools
import re

import emoji

# Shortcodes travel in URL paths: lowercase letters, digits, `_`, `+` and `-` only. A few
# CLDR names (`Japan`, `O_button_(blood_type)`) fall outside; their emoji stay reachable by
# character or by another name.
_SHORTCODE = re.compile(r"[a-z0-9_+\-]{1,64}")
_COMPONENT = emoji.STATUS["component"]  # a skin tone or hair style alone is not a reaction
_FULLY_QUALIFIED = emoji.STATUS["fully_qualified"]


@functools.cache
def _inputs() -> dict[str, str]:
    """Every accepted spelling → its canonical character."""
    qualified = {
        data["en"]: character
        for character, data in emoji.EMOJI_DATA.items()
        if data["status"] == _FULLY_QUALIFIED
    }
    emoji_data = [
        (character, data, qualified[data["en"]])  # unqualified forms share the CLDR name
        for character, data in emoji.EMOJI_DATA.items()
        if data["status"] != _COMPONENT
    ]
    by_shortcode: dict[str, str] = {}
    # Every CLDR name before any alias: `egg` is 🥚, though 🍳 has `egg` as an alias.
    for names in (lambda d: [d["en"]], lambda d: d.get("alias", [])):
        for _, data, canonical in emoji_data:
            for name in names(data):
                code = name.strip(":")
                if _SHORTCODE.fullmatch(code):
                    by_shortcode.setdefault(code, canonical)
    by_character = {character: canonical for character, _, canonical in emoji_data}
    return {**by_shortcode, **by_character}


def canonical_emoji(value: str) -> str | None:
    """The canonical character for a shortcode or an emoji, or None when it names none."""
    return _inputs().get(value)


@functools.cache
def accepted_inputs() -> list[str]:
    """Every spelling `canonical_emoji` accepts, for the OpenAPI document's enum."""
    return sorted(_inputs())

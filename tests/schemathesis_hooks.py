"""Schemathesis hooks for Hearth's conformance runs (loaded through SCHEMATHESIS_HOOKS).

Two things no schema can say, and nothing else:

URLs that Hearth will call (webhooks, channels) must resolve to an address the SSRF guard
allows, which no schema can say: a URL the fuzzer made up ("http://0") is refused with a
422 for where it points, not for its form. Right before each call, such URLs are pointed at
127.0.0.1 (allowed for the served test instance) with their path kept, so the rest of the
body is still fuzzed as generated.
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis

_URL_FIELDS = {"url", "webhook_url", "avatar_url"}
# The documented pattern (`^https?://[!-.0-~][!-~]*$`): scheme, host, and the rest.
_WELL_FORMED = re.compile(r"^(https?)://[!-.0-~]+(/[!-~]*)?$")


def _reachable(value: Any) -> Any:
    match = _WELL_FORMED.match(value) if isinstance(value, str) else None
    if match is None:
        return value  # a malformed URL stays as generated: the server must refuse it
    return f"{match.group(1)}://127.0.0.1:9{match.group(2) or '/'}"


def _rewrite(body: Any) -> Any:
    if isinstance(body, dict):
        return {
            key: _reachable(value) if key in _URL_FIELDS else _rewrite(value)
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [_rewrite(item) for item in body]
    return body


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    if isinstance(case.body, dict | list):
        case.body = _rewrite(case.body)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but two that are about state no schema can describe.

    - "Created resource not found" (ST302) for a 404 whose problem points into the body. An
      id in the body that names nothing (a category, a post replied to) is a 404 like the
      same id in a path, and the problem says which; the check assumes any 404 after a
      create means the created resource vanished.
    - "Schema-valid request rejected" (ST202) for a 422 about time or about the content
      rather than the request: a `publish_at` already past (type `future`), or content whose
      preflight checks fail (the problem carries `checks`), which the contract answers 422;
      and for the documented 415 of an upload whose bytes are not an image (a schema types
      a file as bytes; what the bytes are is read from them).
    - ST202 for a 422 about an automod rule that no schema can say: a regex its engine
      refuses, a config for another kind than the stored rule's, an `action_config` with
      an action other than `timeout`.
    - ST202 for the content import sent the JSON `0`: the coverage phase sends it as a
      positive example of a body the document types as an object (`ContentImport`), and
      the server rightly refuses it.
    """
    code = getattr(failure, "code", None)
    if code not in ("ST302", "ST202"):
        return True
    try:
        problem = response.json()
    except ValueError:
        return True
    errors = problem.get("errors") or []
    if code == "ST302":
        return not any(error.get("loc", [None])[0] == "body" for error in errors)
    if response.status_code == 415 and case.path.endswith("/assets"):
        return False
    if case.path.endswith("/content/import") and not isinstance(case.body, dict | str):
        return False
    if response.status_code != 422:
        return True
    if "checks" in problem:
        return False
    # What the stored state or another engine decides: a time already past, a regex the
    # pattern engine refuses, a config for another kind than the rule's, action_config
    # with an action other than timeout.
    decided_elsewhere = {"future", "regex", "kind", "action_config"}
    return not (errors and all(error.get("type") in decided_elsewhere for error in errors))

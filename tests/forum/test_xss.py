"""XSS: filter-evasion payloads (after the OWASP cheat sheet) posted as Markdown must come back
as HTML a page can insert as is. Every `body_html` is parsed with Python's own HTML parser
and checked for dangerous elements, event handlers, unsafe URLs and the link `rel`."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from app.settings import Settings
from tests.conftest import make_settings, running_app
from tests.forum.conftest import Forum, start_thread

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://xss.example/xss.js></SCRIPT>",
    "<ScRiPt>alert(String.fromCharCode(88,83,83))</sCrIpT>",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>">',
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<img src=`javascript:alert(1)`>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<BODY ONLOAD=alert('XSS')>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](java%0ascript:alert(1))",
    "[click](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
    "[click](&#0000106;avascript:alert(1))",
    "[click](&#x6A;avascript:alert(1))",
    "[click](javascript&colon;alert(1))",
    "[click](  javascript:alert(1)  )",
    "[click](\x01javascript:alert(1))",
    "[click](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    "[ref][x]\n\n[x]: javascript:alert(1)",
    '[ref][x]\n\n[x]: JaVaScRiPt:alert(1) "title"',
    "[ref]\n\n[ref]: &#x6A;avascript:alert(1)",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<data:text/html,<script>alert(1)</script>>",
    "![svg](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[vb](vbscript:msgbox(1))",
    "[file](file:///etc/passwd)",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<div style="width: expression(alert(1))">x</div>',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<a href="https://ok.example" onmouseover="alert(1)">hover</a>',
    "<a href=`javascript:alert(1)`>tick</a>",
    "![img](javascript:alert(1))",
    '![img](x" onerror="alert(1))',
    '![img](https://ok.example/i.png"onerror="alert(1))',
    '[a](https://ok.example "t\\" onmouseover=alert(1) x=\\"")',
    '<http://ok.example/a"onmouseover="alert(1)>',
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>alert(1);//<</script>",
    "<!--<script>alert(1)</script>-->",
    "<!-- --><img src=x onerror=alert(1)>",
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<form action="javascript:alert(1)"><input type=submit formaction=javascript:alert(1)></form>',
    '<math><mtext><a href="javascript:alert(1)">x</a></mtext></math>',
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    '<LINK REL="stylesheet" HREF="javascript:alert(\'XSS\');">',
    "<scri&#0;pt>alert(1)</scri&#0;pt>",
    "[null](java&#0;script:alert(1))",
    "[null](java%00script:alert(1))",
    "[null](java\\0script:alert(1))",
    "| a | b |\n|---|---|\n| <script>alert(1)</script> | [x](javascript:alert(1)) |",
    "```html\n<script>alert(1)</script>\n```",
    "> <img src=x onerror=alert(1)>\n> [q](javascript:alert(1))",
]

FORBIDDEN_TAGS = {
    "script", "iframe", "object", "embed", "style", "svg", "math", "form", "meta", "base",
    "link", "input", "body", "frame", "frameset", "applet", "template", "noscript", "textarea",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "background"}
SAFE_SCHEMES = {"http", "https", "mailto"}
LINK_REL = {"nofollow", "ugc", "noopener"}
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u00ad\u200b-\u200f\u2028\u2029\ufeff]")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")


@pytest.fixture
async def app(settings: Settings):
    """Room for every payload: the default member budget is 10 posts a minute."""
    roomy = make_settings(
        settings.database_url,
        rate_limit_member_posts="10000/minute",
        rate_limit_ip_writes="10000/minute",
    )
    async with running_app(roomy) as app:
        yield app


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see: entities are already decoded by the parser; browsers
    also drop whitespace and control characters inside a scheme."""
    match = _SCHEME.match(_INVISIBLE.sub("", value))
    return match.group(1).lower() if match else None


class SafeHtmlChecker(HTMLParser):
    """Collects every reason the HTML would be unsafe to insert in a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.tags: list[str] = []
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> element")
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{name} handler on <{tag}>")
            if name in {"style", "srcdoc"} and tag not in {"td", "th"}:
                self.problems.append(f"{name} attribute on <{tag}>")
            if name in URL_ATTRIBUTES:
                scheme = url_scheme(value or "")
                if scheme is not None and scheme not in SAFE_SCHEMES:
                    self.problems.append(f"{name}={value!r} on <{tag}> (scheme {scheme})")
        if tag in {"td", "th"} and "style" in values:
            style = (values["style"] or "").replace(" ", "").lower()
            if not re.fullmatch(r"(text-align:(left|right|center);?)?", style):
                self.problems.append(f"style {values['style']!r} on <{tag}>")
        if tag == "a":
            self.links.append(values)
            if set((values.get("rel") or "").split()) != LINK_REL:
                self.problems.append(f"<a> with rel={values.get('rel')!r}")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        self.problems.append(f"comment {data!r}")

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"declaration {decl!r}")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"processing instruction {data!r}")


def check_html(html: str) -> SafeHtmlChecker:
    checker = SafeHtmlChecker()
    checker.feed(html)
    checker.close()
    assert not checker.problems, (html, checker.problems)
    assert "<script" not in html.lower()
    return checker


def test_the_checker_catches_what_it_should() -> None:
    """The checker itself: unsafe HTML is reported, so a clean report means something."""
    unsafe = [
        "<script>x</script>",
        '<img src="x" onerror="y">',
        '<a href="&#106;avascript:alert(1)" rel="nofollow ugc noopener">x</a>',
        '<a href="java\tscript:alert(1)" rel="nofollow ugc noopener">x</a>',
        '<a href=" javascript:alert(1)" rel="nofollow ugc noopener">x</a>',
        '<a href="https://ok.example">no rel</a>',
        '<img src="data:text/html,x">',
        "<svg></svg>",
        "<!-- hi -->",
    ]
    for html in unsafe:
        checker = SafeHtmlChecker()
        checker.feed(html)
        assert checker.problems, html
    assert url_scheme("java%09script:alert(1)") is None  # a relative URL to a browser
    assert url_scheme("//evil.example/x") is None


@pytest.mark.both_backends
async def test_payloads_render_to_safe_html_and_are_stored_as_written(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    member = forum.member("attacker", "Mallory")
    reader, viewer = forum.member("reader", "Rae"), forum.staff("viewer")
    failures: list[tuple[str, str, str]] = []

    def check(payload: str, where: str, post: dict) -> None:
        try:
            check_html(post["body_html"])
        except AssertionError as exc:
            failures.append((payload, where, str(exc)))

    for payload in PAYLOADS:
        # As the opening post of a thread, as a reply, and as an edit of that reply.
        thread = await start_thread(
            client, forum, member, title="Totally harmless", body=payload, kind="discussion"
        )
        reply = await client.post(
            f"/v1/threads/{thread['id']}/posts", json={"body": payload}, headers=member
        )
        assert reply.status_code == 201, (payload, reply.text)
        assert reply.json()["body"] == payload
        check(payload, "reply", reply.json())
        edited = await client.patch(
            f"/v1/posts/{reply.json()['id']}", json={"body": f"edit: {payload}"}, headers=member
        )
        assert edited.status_code == 200, (payload, edited.text)
        check(payload, "edit", edited.json())
        # Readers later get the stored text back as written, and the same safe HTML.
        for headers in (reader, viewer):
            listed = await client.get(f"/v1/threads/{thread['id']}/posts", headers=headers)
            opening, again = listed.json()["items"]
            assert opening["body"] == payload
            assert again["body"] == f"edit: {payload}"
            check(payload, "opening post", opening)
            check(payload, "edited reply", again)
    assert not failures, "\n".join(map(repr, failures))


@pytest.mark.both_backends
async def test_nul_characters_are_refused_not_a_server_error(
    client: httpx.AsyncClient, forum: Forum
) -> None:
    """PostgreSQL text cannot hold NUL; it is a 422 on both backends, never a 500."""
    thread = await start_thread(client, forum, forum.member())
    for body in ("<scri\x00pt>alert(1)</scri\x00pt>", "[null](java\x00script:alert(1))"):
        reply = await client.post(
            f"/v1/threads/{thread['id']}/posts", json={"body": body}, headers=forum.member()
        )
        assert reply.status_code == 422, reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert reply.json()["errors"][0]["loc"][-1] == "body"
    titled = await client.post(
        f"/v1/communities/{forum.community_id}/threads",
        json={"category_id": forum.category_id, "title": "Hi\x00there", "body": "x"},
        headers=forum.member(),
    )
    assert titled.status_code == 422, titled.text


@pytest.mark.parametrize("payload", PAYLOADS[::7], ids=range(len(PAYLOADS[::7])))
async def test_staff_posts_are_sanitized_too(
    client: httpx.AsyncClient, forum: Forum, payload: str
) -> None:
    thread = await start_thread(client, forum, forum.member())
    reply = await client.post(
        f"/v1/threads/{thread['id']}/posts", json={"body": payload}, headers=forum.staff()
    )
    assert reply.status_code == 201, reply.text
    check_html(reply.json()["body_html"])
    assert reply.json()["body"] == payload and reply.json()["is_official"] is True


async def test_safe_links_survive_with_the_ugc_rel(client: httpx.AsyncClient, forum: Forum) -> None:
    body = (
        'See [the docs](https://docs.example/start "Docs"), <https://status.example>, '
        "[mail us](mailto:help@example.com), <help@example.com>, [relative](/faq#link) and "
        '<a href="https://raw.example" rel="opener">raw html</a>.\n\n'
        "![logo](https://cdn.example/logo.png)\n\n[ref link][docs]\n\n"
        "[docs]: https://docs.example/ref"
    )
    thread = await start_thread(client, forum, forum.member(), body=body, kind="discussion")
    post = await client.get(f"/v1/posts/{thread['first_post_id']}", headers=forum.member())
    checker = check_html(post.json()["body_html"])
    hrefs = [link.get("href") for link in checker.links]
    assert hrefs == [
        "https://docs.example/start",
        "https://status.example",
        "mailto:help@example.com",
        "mailto:help@example.com",
        None,  # relative: it would point into whatever site embeds the forum; text stays
        "https://docs.example/ref",
    ]
    assert checker.links[0]["title"] == "Docs"
    assert "img" in checker.tags
    assert "&lt;a href=" in post.json()["body_html"]  # raw HTML stays visible text

"""Open every page of the built site in a real browser and say what a reader would trip over.

    python docs/check_site.py docs/_build/html

The site is served over HTTP from this machine, as a host would serve it, and each page is opened in
Chromium (Debian's ``chromium``, driven by Playwright; no browser is downloaded). A page passes when
it loads without a console error, an uncaught exception or a failed request; each of its images has
loaded; each of its links into the site reaches a file, and the heading or anchor the link names is
on that page. Each recipe page shows its two builds' diagrams, and a search for "LSTM" lists the
lstm page.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

SKIPPED = ("_static", "_sources", "_images", "_downloads", "_modules")
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
SEARCHED, FOUND = "LSTM", "recipes/lstm.html"


def chromium() -> str:
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    raise FileNotFoundError("no Chromium on this machine: apt-get install chromium")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser moved on mid-file
            super().handle_error(request, client_address)


def _serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@functools.cache
def _anchors(path: Path) -> frozenset[str]:
    return frozenset(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))


def _broken_link(root: Path, base: str, href: str) -> str | None:
    """Why ``href`` (found on a page served from ``base``) does not resolve, or None."""
    url = urlsplit(href)
    if not href.startswith(base):
        return None  # another site, mailto:, javascript:
    target = root / unquote(url.path[len(urlsplit(base).path) :])
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return f"links to a missing {target.relative_to(root)}"
    if url.fragment and target.suffix == ".html" and unquote(url.fragment) not in _anchors(target):
        return f"links to #{url.fragment}, which {target.relative_to(root)} does not have"
    return None


_IMAGES = "[...document.images].map(i => [i.currentSrc || i.src, i.complete && i.naturalWidth > 0])"
_LINKS = "[...document.querySelectorAll('a[href]')].map(a => a.href)"
_DIAGRAMS = (
    "[...document.querySelectorAll('.builds img')]"
    ".map(i => i.naturalWidth > 0 && i.getBoundingClientRect().width > 0)"
)


def check_page(page: object, root: Path, base: str, relative: str) -> list[str]:
    """What is wrong with one page, each problem a line that names the page."""
    problems: list[str] = []
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and problems.append(f"console: {message.text} ({message.location.get('url', '')})")
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.on(
        "response",
        lambda response: response.status >= 400 and problems.append(f"{response.status}: {response.url}"),
    )
    page.goto(urljoin(base, relative), wait_until="load")
    for source, loaded in page.evaluate(_IMAGES):
        if not loaded:
            problems.append(f"image did not load: {source}")
    for href in sorted(set(page.evaluate(_LINKS))):
        if why := _broken_link(root, base, href):
            problems.append(why)
    if relative.startswith("recipes/") and not relative.endswith("index.html"):
        shown = page.evaluate(_DIAGRAMS)
        if len(shown) < 2 or not all(shown):
            problems.append(f"shows {sum(shown)} of its builds' diagrams (two or more expected)")
    return [f"{relative}: {problem}" for problem in problems]


def check_search(page: object, base: str) -> list[str]:
    page.goto(urljoin(base, f"search.html?q={SEARCHED}"), wait_until="load")
    try:
        page.wait_for_selector("ul.search li a", timeout=15_000)
    except Exception:  # noqa: BLE001 - Playwright's timeout: the search listed nothing
        return [f"search.html: a search for {SEARCHED!r} listed nothing"]
    found = page.evaluate("[...document.querySelectorAll('ul.search li a')].map(a => a.href)")
    if not any(FOUND in href for href in found):
        return [f"search.html: a search for {SEARCHED!r} did not list {FOUND} ({len(found)} results)"]
    return []


def check_site(root: Path) -> list[str]:
    """Every problem found on the site built in ``root``; empty when there is none."""
    from playwright.sync_api import sync_playwright

    pages = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.html")
        if path.relative_to(root).parts[0] not in SKIPPED
    )
    server, base = _serve(root)
    problems: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
            for relative in pages:
                page = browser.new_page()
                problems += check_page(page, root, base, relative)
                page.close()
            page = browser.new_page()
            problems += check_search(page, base)
            browser.close()
    finally:
        server.shutdown()
    print(f"checked {len(pages)} pages in Chromium: {len(problems)} problems")
    return problems


if __name__ == "__main__":
    found = check_site(Path(sys.argv[1]))
    print("\n".join(found))
    sys.exit(1 if found else 0)

"""Find HTML links whose visible text names a different domain than the link target."""

import logging
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

# One Public Suffix List instance serves the process. orgdomain builds it on first use.
from diag.facts.orgdomain import org_domain, public_suffix_list

log = logging.getLogger(__name__)

# A message with thousands of mismatches gains nothing from listing them all.
MAX_REPORTED_LINKS = 50

# Visible text that is a bare domain or a URL: "example.com", "www.example.com/login",
# "https://example.com". An email address or a sentence is not matched.
_DOMAIN_TEXT = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?((?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63})\.?"
    r"(?::\d{1,5})?(?:[/?#]\S*)?$",
    re.IGNORECASE,
)


class _AnchorParser(HTMLParser):
    """Collect (href, visible text) for every <a href> element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag != "a":
            return
        # An <a> inside an unclosed <a> closes the first one, as browsers do.
        self._finish()
        href = dict(attrs).get("href")
        if href:
            self._href = href.strip()
            self._text = []

    def handle_endtag(self, tag):
        if tag == "a":
            self._finish()

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)

    def close(self):
        super().close()
        self._finish()

    def _finish(self):
        if self._href is not None:
            self.anchors.append((self._href, " ".join("".join(self._text).split())))
        self._href = None
        self._text = []


def text_domain(text: str) -> str | None:
    """Return the domain that link text shows, or None when the text is no domain or URL.

    The last label must be a public suffix known to the Public Suffix List, so file names
    such as "report.pdf" are not taken for domains.
    """
    match = _DOMAIN_TEXT.match(text.strip())
    if match is None:
        return None
    domain = _ascii_domain(match.group(1))
    if domain is None or public_suffix_list().publicsuffix(domain, accept_unknown=False) is None:
        return None
    return domain


def _ascii_domain(domain: str) -> str | None:
    """Lower-case a domain and convert internationalised labels to their A-labels (RFC 5890)."""
    domain = domain.rstrip(".").lower()
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def href_domain(href: str) -> str | None:
    """Return the host of an http or https link, or None for mailto:, tel:, relative links."""
    if not href.lower().startswith(("http://", "https://")):
        return None
    try:
        host = urlsplit(href).hostname
    except ValueError:
        return None
    return _ascii_domain(host) if host else None


def find_mismatched_links(html: str) -> list[dict]:
    """Return links whose text shows a domain whose organisational domain is not the target's."""
    parser = _AnchorParser()
    parser.feed(html)
    parser.close()

    mismatched = []
    for href, text in parser.anchors:
        text_host = text_domain(text)
        if text_host is None:
            continue
        target = href_domain(href)
        if target is None or org_domain(text_host) == org_domain(target):
            continue

        mismatched.append({"text": text, "href": href, "text_domain": text_host, "href_domain": target})
        if len(mismatched) >= MAX_REPORTED_LINKS:
            log.info("more than %d mismatched links, listing the first %d", MAX_REPORTED_LINKS, MAX_REPORTED_LINKS)
            break
    return mismatched

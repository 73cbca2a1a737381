"""Body and list facts on samples/eml/content-*.eml."""

from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from diag.facts import content, identities, links
from diag.messages.model import Header, ParsedMessage

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "eml"


def parsed_message(data: bytes, headers_only: bool = False) -> ParsedMessage:
    message = BytesParser(policy=policy.compat32).parsebytes(data)
    headers = [Header(name, value, position) for position, (name, value) in enumerate(message.items())]
    if headers_only:
        return ParsedMessage(headers=headers, body=None)
    body = data.split(b"\n\n", 1)[1] if b"\n\n" in data else b""
    return ParsedMessage(headers=headers, body=body, email=message)


def facts_of(name: str, headers_only: bool = False, microsoft: dict | None = None) -> dict:
    parsed = parsed_message((SAMPLES / name).read_bytes(), headers_only)
    facts = {"identities": identities.collect(parsed.headers), "microsoft": microsoft or {}}
    return content.collect(parsed, facts)


@pytest.fixture(scope="module")
def newsletter() -> dict:
    return facts_of("content-newsletter-mismatched-links.eml")


def test_newsletter_has_parts(newsletter):
    assert newsletter["has_body"] is True
    assert newsletter["has_text_plain"] is True
    assert newsletter["has_html"] is True
    assert "html_truncated" not in newsletter


def test_newsletter_mismatched_links(newsletter):
    assert newsletter["mismatched_links"] == [
        {
            "text": "www.example.com",
            "href": "https://click.example.net/track?u=1",
            "text_domain": "example.com",
            "href_domain": "click.example.net",
        },
        {
            "text": "secure.example.com",
            "href": "https://login.example.net/",
            "text_domain": "secure.example.com",
            "href_domain": "login.example.net",
        },
    ]


def test_newsletter_unsubscribe(newsletter):
    assert newsletter["list_unsubscribe"] == (
        "<https://unsubscribe.example.com/u/123>, <mailto:unsubscribe@example.com?subject=unsubscribe-123>"
    )
    assert newsletter["list_unsubscribe_uris"] == [
        "https://unsubscribe.example.com/u/123",
        "mailto:unsubscribe@example.com?subject=unsubscribe-123",
    ]
    assert newsletter["list_unsubscribe_https"] is True
    assert newsletter["list_unsubscribe_mailto"] is True
    assert newsletter["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"
    assert newsletter["one_click_unsubscribe"] is True


def test_newsletter_bulk(newsletter):
    assert newsletter["bulk"] is True
    assert newsletter["bulk_reasons"] == ["Precedence: bulk", "List-Unsubscribe"]


def test_ses_invoice_not_bulk():
    # SES adds a Feedback-ID to transactional mail too; that alone is no bulk signal.
    headers = [
        Header("From", "invoices@example.com", 0),
        Header("Feedback-ID", "1.eu-west-1.AbCdEf0123456789=:AmazonSES", 1),
        Header("Subject", "Invoice 42", 2),
    ]
    parsed = ParsedMessage(headers=headers, body=None)
    facts = content.collect(parsed, {"identities": identities.collect(headers)})
    assert facts["bulk"] is False
    assert facts["bulk_reasons"] == []


def test_html_only_latin1():
    facts = facts_of("content-html-only-latin1.eml")
    assert facts["has_text_plain"] is False
    assert facts["has_html"] is True
    assert facts["mismatched_links"] == [
        {
            "text": "boutique.example.net",
            "href": "https://shop.example.org/",
            "text_domain": "boutique.example.net",
            "href_domain": "shop.example.org",
        },
    ]
    assert facts["bulk"] is False
    assert facts["bulk_reasons"] == []
    assert "list_unsubscribe" not in facts
    assert facts["one_click_unsubscribe"] is False


def test_text_attachment_not_text_plain():
    facts = facts_of("content-html-with-text-attachment.eml")
    # The text/plain attachment and the attached message's text are not this message's body.
    assert facts["has_text_plain"] is False
    assert facts["has_html"] is True
    assert facts["mismatched_links"] == []


def test_no_content_type_is_text_plain():
    facts = facts_of("content-plain-no-content-type.eml")
    assert facts["has_text_plain"] is True
    assert facts["has_html"] is False
    assert facts["bulk"] is True
    assert facts["bulk_reasons"] == ["List-Id"]


def test_header_only_input():
    facts = facts_of("content-newsletter-mismatched-links.eml", headers_only=True)
    assert facts["has_body"] is False
    assert "has_text_plain" not in facts
    assert "mismatched_links" not in facts
    assert facts["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"
    assert facts["bulk"] is True


@pytest.mark.parametrize("bcl,bulk", [(0, False), (1, True), (7, True)])
def test_bulk_from_bcl(bcl, bulk):
    facts = facts_of("content-html-only-latin1.eml", microsoft={"bcl": bcl})
    assert facts["bulk"] is bulk


@pytest.mark.parametrize("precedence,bulk", [("bulk", True), ("List", True), ("junk", True), ("first-class", False)])
def test_bulk_from_precedence(precedence, bulk):
    parsed = ParsedMessage(headers=[Header("Precedence", precedence, 0)], body=None)
    assert content.collect(parsed, {})["bulk"] is bulk


@pytest.mark.parametrize(
    "post,https,one_click",
    [
        ("List-Unsubscribe=One-Click", True, True),
        ("list-unsubscribe=one-click", True, True),
        ("List-Unsubscribe=One-Click", False, False),
        ("One-Click", True, False),
    ],
)
def test_one_click_unsubscribe(post, https, one_click):
    uri = "<https://u.example.com/1>" if https else "<mailto:u@example.com>"
    parsed = ParsedMessage(
        headers=[Header("List-Unsubscribe", uri, 0), Header("List-Unsubscribe-Post", post, 1)], body=None
    )
    assert content.collect(parsed, {})["one_click_unsubscribe"] is one_click


def test_html_truncated(monkeypatch):
    monkeypatch.setattr(content, "MAX_HTML_BYTES", 1000)
    filler = "<p>" + "x" * 2000 + "</p>"
    data = (
        "From: a@example.com\nContent-Type: text/html; charset=utf-8\n\n"
        f'<a href="https://a.example.net/">a.example.com</a>{filler}<a href="https://b.example.net/">b.example.com</a>\n'
    ).encode()
    facts = content.collect(parsed_message(data), {})
    assert facts["html_truncated"] is True
    assert [link["text"] for link in facts["mismatched_links"]] == ["a.example.com"]


@pytest.mark.parametrize(
    "text,domain",
    [
        ("example.com", "example.com"),
        ("https://www.Example.com/login?x=1", "example.com"),
        ("sub.example.co.uk:8443/path", "sub.example.co.uk"),
        ("report.pdf", None),
        ("alex@example.com", None),
        ("Sign in to example.com", None),
        ("localhost", None),
        ("bücher.de", "xn--bcher-kva.de"),
    ],
)
def test_text_domain(text, domain):
    assert links.text_domain(text) == domain


@pytest.mark.parametrize(
    "href,domain",
    [
        ("https://Login.Example.NET./x", "login.example.net"),
        ("http://[2001:db8::1]/", "2001:db8::1"),
        ("mailto:a@example.com", None),
        ("tel:+15550100", None),
        ("javascript:void(0)", None),
        ("//example.com/", None),
        ("https://[broken/", None),
    ],
)
def test_href_domain(href, domain):
    assert links.href_domain(href) == domain


def test_links_unclosed_anchor():
    html = '<a href="https://a.example.net/">a.example.com<a href="https://b.example.com/">b.example.com</a>'
    assert [link["href"] for link in links.find_mismatched_links(html)] == ["https://a.example.net/"]


def test_links_capped():
    html = '<a href="https://x.example.net/">example.com</a>' * (links.MAX_REPORTED_LINKS + 10)
    assert len(links.find_mismatched_links(html)) == links.MAX_REPORTED_LINKS


def html_message(html: str) -> bytes:
    return (
        "From: shop@example.com\nTo: kim@example.net\nSubject: Order\nMIME-Version: 1.0\n"
        f"Content-Type: text/html; charset=utf-8\n\n{html}\n"
    ).encode("utf-8")


def test_html_uppercase_anchor():
    html = '<P>Sign in at <A HREF="https://login.example.org/">www.example.com</A></P>'
    facts = content.collect(parsed_message(html_message(html)), {"microsoft": {}})
    assert [link["href"] for link in facts["mismatched_links"]] == ["https://login.example.org/"]


def test_html_without_anchor():
    html = "<p>Your order example.com/4411 has shipped.</p><!-- a.example.net -->"
    facts = content.collect(parsed_message(html_message(html)), {"microsoft": {}})
    assert facts["has_html"] is True
    assert facts["mismatched_links"] == []

"""Header field names the reader recognises when it has to decide how to read a damaged paste.

A name in these lists is evidence that a line starts a header field and not a continuation
or the body. Names are lower-case. Sources: RFC 5322 section 3.6 (message fields), RFC 2045
(MIME), RFC 2369 and 8058 (List-*), RFC 8601 (Authentication-Results), RFC 7208 section 9.1
(Received-SPF), RFC 6376 (DKIM-Signature), RFC 8617 (ARC-*), and the headers that Microsoft
documents in "Anti-spam message headers in Microsoft 365".
"""

from functools import lru_cache

# Trace and authentication fields: receivers stamp them, so a paste from a mailbox nearly
# always has several, and they are what a paste split by a blank line continues with.
TRACE_NAMES = frozenset({
    "received",
    "return-path",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "authentication-results",
    "authentication-results-original",
    "arc-authentication-results",
    "arc-message-signature",
    "arc-seal",
    "dkim-signature",
    "domainkey-signature",
    "received-spf",
    "x-received",
    "x-original-authentication-results",
    "x-google-smtp-source",
    "x-gm-message-state",
    "x-forefront-antispam-report",
    "x-forefront-antispam-report-untrusted",
    "x-microsoft-antispam",
    "x-microsoft-antispam-untrusted",
    "x-microsoft-antispam-message-info",
    "x-microsoft-antispam-mailbox-delivery",
    "x-eopattributedmessage",
    "x-eoptenantattributedmessage",
    "x-originating-ip",
    "x-ses-outgoing",
    "feedback-id",
    "x-spam-status",
    "x-spam-score",
    "x-rspamd-queue-id",
    "x-rspamd-server",
    "x-rspamd-action",
})

TRACE_PREFIXES = (
    "x-ms-exchange-",
    "x-microsoft-",
    "x-forefront-",
    "arc-",
    "x-google-",
    "x-gm-",
)

MESSAGE_NAMES = frozenset({
    # RFC 5322 section 3.6
    "date", "from", "sender", "reply-to", "to", "cc", "bcc", "message-id", "in-reply-to",
    "references", "subject", "comments", "keywords",
    "resent-date", "resent-from", "resent-sender", "resent-to", "resent-cc", "resent-bcc",
    "resent-message-id",
    # RFC 2045 and RFC 2183
    "mime-version", "content-type", "content-transfer-encoding", "content-id",
    "content-description", "content-disposition", "content-language", "content-length",
    # RFC 2369, RFC 2919 and RFC 8058
    "list-id", "list-unsubscribe", "list-unsubscribe-post", "list-subscribe", "list-help",
    "list-post", "list-owner", "list-archive",
    # Common extensions
    "precedence", "errors-to", "importance", "priority", "x-priority", "x-mailer",
    "user-agent", "thread-topic", "thread-index", "auto-submitted", "organization",
    "disposition-notification-to", "x-auto-response-suppress", "accept-language",
    "x-mailgun-sid", "x-sg-eid", "x-sg-id", "x-entity-id", "x-campaign", "x-report-abuse",
    "x-mailer-sid", "x-apparently-to", "x-incomingheadercount", "x-publictraffictype",
    "x-ms-publictraffictype", "x-mimeole", "x-spam-flag", "x-virus-scanned",
    "x-mailman-version", "x-beenthere", "x-original-sender", "mailing-list",
})

MESSAGE_PREFIXES = ("x-ms-", "list-", "content-", "resent-", "x-ses-", "x-amz", "x-sg-", "x-mailgun-")

# RFC 5322 section 3.6 allows these at most once, so the reader takes a second one after a
# blank line as the start of a quoted message in the body, not more of the header block.
SINGLE_NAMES = frozenset({
    "date", "from", "sender", "reply-to", "to", "cc", "bcc", "message-id", "in-reply-to",
    "references", "subject", "mime-version", "content-type",
})

# Fields that describe the body (RFC 2045): the header block of a message usually ends with
# them, so text after them at column 0 is the body when it is not a parameter continuation.
BODY_DESCRIBING_NAMES = frozenset({
    "content-type", "content-transfer-encoding", "mime-version", "content-disposition",
    "content-language", "content-length",
})


def is_trace(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACE_NAMES or lowered.startswith(TRACE_PREFIXES)


def is_known(name: str) -> bool:
    lowered = name.lower()
    return (
        lowered in MESSAGE_NAMES
        or lowered in TRACE_NAMES
        or lowered.startswith(TRACE_PREFIXES)
        or lowered.startswith(MESSAGE_PREFIXES)
    )


# Fields whose value is free text (RFC 5322 section 3.6.5, RFC 2045 section 8, and
# Microsoft's Thread-Topic), so a fold can put any "Word:" at the start of a line.
UNSTRUCTURED_NAMES = frozenset({"subject", "thread-topic", "comments", "content-description"})

# Fields that carry one mailbox (RFC 5322 section 3.6.2), whose display name is free text
# until the address starts.
DISPLAY_NAME_FIELDS = frozenset({"from", "sender"})

# One-word names without a hyphen that the IANA Message Headers registry (RFC 3864) lists for
# mail, netnews or MIME, or that mailbox stores write (Status), and that is_known() does not
# list. After a Subject, a paste line that starts with one of them stays a field.
REGISTERED_WORD_NAMES = frozenset({
    "approved", "archive", "autocrypt", "autoforwarded", "autosubmitted", "body", "control",
    "conversion", "distribution", "encoding", "encrypted", "expires", "language", "lines",
    "newsgroups", "obsoletes", "path", "sensitivity", "solicitation", "status", "summary",
    "supersedes", "xref",
})


# Cached because the reader asks about the field after each From and Subject of every message,
# and field names repeat from message to message.
@lru_cache(maxsize=1024)
def is_text_word(name: str) -> bool:
    """Tell whether `name` reads as a word of text ("Reminder", "Re", "FWD") more than a field name.

    Extension fields are named with hyphens (X-Mailer, List-Id) or are machine-made
    (SpamDiagnosticOutput, 360nrsId), so a name with a hyphen, a digit, an inner capital
    letter, or that is known or registered is a field name.
    """
    if not name.isalpha() or not (len(name) == 1 or name[1:].islower() or name.isupper()):
        return False
    lowered = name.lower()
    return lowered not in REGISTERED_WORD_NAMES and not is_known(lowered)

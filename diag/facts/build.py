"""Assemble the Facts document of one message from the header, body and DNS sources.

See docs/facts.md for every path and which module fills it.
"""

import logging

from diag.facts import arc, authres, content, dkimsig, esp, identities, microsoft, received, sender, trust
from diag.messages.model import ParsedMessage

log = logging.getLogger(__name__)


def build_facts(parsed: ParsedMessage, authserv_id: str | None = None) -> dict:
    """Gather every header and body fact of `parsed` into one dictionary."""
    headers = parsed.headers
    facts: dict = {
        "source": {"path": parsed.source, "index": parsed.index},
        "input": {
            "kind": parsed.kind,
            "repairs": [vars(repair) for repair in parsed.repairs],
            "header_count": len(headers),
        },
    }

    facts["identities"] = identities.collect(headers)
    facts["dkim_signatures"] = dkimsig.collect(headers)
    auth_headers = authres.collect(headers)
    facts["auth"] = {"headers": auth_headers}

    from_domain = (facts["identities"].get("from") or {}).get("domain")
    trusted, verdicts = trust.select(
        auth_headers,
        headers,
        from_domain=from_domain,
        dkim_signatures=facts["dkim_signatures"],
        authserv_id=authserv_id,
    )
    if trusted is not None:
        facts["auth"]["trusted"] = trusted
    facts["verdicts"] = verdicts

    facts["microsoft"] = microsoft.collect(headers)
    facts["arc"] = arc.collect(
        headers, verdicts, from_domain=from_domain, trusted=trusted, auth_headers=auth_headers
    )
    facts["received"] = received.collect(headers)
    sender_facts, received_spf = sender.collect(headers, facts)
    verdicts.update(sender_facts)
    esp.add_receiver_evidence(facts["identities"], verdicts)
    if received_spf is not None:
        facts["auth"]["received_spf"] = received_spf
    facts["content"] = content.collect(parsed, facts)

    log.debug("facts built for %s #%d", parsed.source, parsed.index)
    return facts

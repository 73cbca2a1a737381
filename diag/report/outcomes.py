"""Group the rules that did not run, by reason, into one line each with the command that would run them.

A report lists 40-odd rules that could not judge the input: DNS record rules after
`maildiag analyze`, SES account rules without AWS access, body rules on a header paste. Listed
one by one they bury the findings, so each group becomes one line with the reason and the
command to run instead. `maildiag -v` and the HTML and Markdown <details> still list every rule.
"""

from dataclasses import dataclass, field

# Groups in the order a report lists them.
GROUP_ORDER = ("dns", "ses", "verify", "body", "message", "other")


@dataclass
class OutcomeView:
    name: str
    code: str
    title: str
    detail: str = ""
    # The outcome's `reason` field (diag.engine.evaluate), e.g. "temperror" or "denied".
    reason: str = ""


@dataclass
class OutcomeGroup:
    """Rules that did not run for one reason, and the one line that gives the reason."""

    key: str
    # Singular noun, e.g. "DNS record check", and what happened, e.g. "not run".
    noun: str
    verb: str
    reason: str
    action: str = ""
    rules: list[OutcomeView] = field(default_factory=list)

    @property
    def line(self) -> str:
        """The summary line, e.g. "27 DNS record checks not run: ... Run `maildiag dns example.com`."."""
        count = len(self.rules)
        text = f"{count} {self.noun}{'' if count == 1 else 's'} {self.verb}: {self.reason}."
        return f"{text} {self.action}" if self.action else text


def missing_sources(outcome: dict) -> frozenset[str]:
    """Return the fact sources a not_applicable outcome lacked (headers, message, dns, ses), or none."""
    if outcome.get("outcome") != "not_applicable":
        return frozenset()
    return frozenset(outcome.get("missing") or ())


def not_applied_note(outcome: dict) -> str:
    """Return why a rule whose sources were present did not apply, for the -v list of such rules.

    The note is "applies when CONDITION" for a false `applies`, "deferred to RULE" for a rule
    that stepped aside for a failing one, and the outcome's detail otherwise.
    """
    reason = outcome.get("reason")
    if reason == "applies-false" and outcome.get("condition"):
        return f"applies when {outcome['condition']}"
    if reason == "deferred" and outcome.get("deferred_to"):
        return f"deferred to {outcome['deferred_to']}"
    return str(outcome.get("detail", ""))


def group_not_run(entry: dict, outcomes: list[tuple[dict, OutcomeView]]) -> list[OutcomeGroup]:
    """Return the not_applicable outcomes whose fact source is absent, one group per reason, in GROUP_ORDER."""
    groups: dict[str, OutcomeGroup] = {}
    for outcome, row in outcomes:
        missing = missing_sources(outcome)
        if not missing:
            continue
        key = _group_key(entry, missing)
        if key not in groups:
            groups[key] = _new_group(key, entry, missing)
        groups[key].rules.append(row)
    return [groups[key] for key in GROUP_ORDER if key in groups]


def did_not_apply_group(rules: list[OutcomeView], kind: str) -> OutcomeGroup:
    """Return the rules that did not apply although their sources were present.

    Their `applies` condition was false, or they deferred to a failing rule. Each row's
    detail is the note of not_applied_note.
    """
    holder = "the DNS answers contain" if kind == "domain" else "the message has"
    return OutcomeGroup("not-applicable", "other check", "did not apply", f"{holder} none of the facts they judge", rules=list(rules))


def _group_key(entry: dict, missing: frozenset[str]) -> str:
    if "headers" in missing or ("message" in missing and "input" not in entry):
        return "message"
    if missing == {"message", "dns"}:
        return "verify"
    if missing == {"message"}:
        return "body"
    if missing == {"dns"}:
        return "dns"
    if missing == {"ses"}:
        return "ses"
    return "other"


def _new_group(key: str, entry: dict, missing: frozenset[str]) -> OutcomeGroup:
    domain = _from_domain(entry)
    if key == "dns":
        command = f"maildiag dns {domain or 'DOMAIN'}"
        if _unverified_full_message(entry):
            # The group then contains the verification rules too, which lack only DNS here.
            return OutcomeGroup(key, "DNS check", "not run", "no DNS lookups were made (--offline without --zone or --replay)", f"Run `{command}` to check the records, or drop --offline to verify the message.")
        return OutcomeGroup(key, "DNS record check", "not run", "the domain's DNS records were not looked up", f"Run `{command}`.")
    if key == "ses":
        if _sent_elsewhere(entry):
            # The SES account cannot explain mail that another service or server sent.
            service = entry["identities"].get("esp")
            if service:
                from diag.facts.esp import provider_names

                reason = f"the headers show that {provider_names().get(service, service)}, not Amazon SES, sent this message"
            else:
                reason = "the headers show no trace of Amazon SES"
            return OutcomeGroup(key, "SES account check", "not run", reason)
        region = _region(entry)
        command = f"maildiag ses check --region {region or 'REGION'}"
        where = "" if region else " with the region you send from"
        return OutcomeGroup(key, "SES account check", "not run", "they read the SES account through the AWS API", f"Run `{command}`{where}.")
    if key == "verify":
        return _verify_group(entry)
    if key == "body":
        return OutcomeGroup(key, "body check", "not run", "the input has headers only", "Analyze the full message (the .eml file) to check its body.")
    if key == "message":
        action = f"Run `maildiag analyze FILE` on a message sent from {domain}." if domain else "Run `maildiag analyze FILE` on a received message."
        return OutcomeGroup(key, "message check", "not run", "they read a received message's headers or body", action)
    return OutcomeGroup(key, "check", "not run", f"they need {', '.join(sorted(missing))} facts, which this input does not provide")


def _unverified_full_message(entry: dict) -> bool:
    """Tell whether a full message went unverified, which means that no DNS answers were available.

    `maildiag analyze` verifies a message with headers and body whenever it has a source of
    DNS answers (diag.verify.collect.should_verify), so without `verify` it had none:
    --offline without --zone or --replay.
    """
    input_kind = (entry.get("input") or {}).get("kind")
    has_body = (entry.get("content") or {}).get("has_body") is True
    return input_kind == "message" and has_body and "verify" not in entry


def _verify_group(entry: dict) -> OutcomeGroup:
    if _unverified_full_message(entry):
        return OutcomeGroup("verify", "verification check", "not run", "maildiag had no DNS answers to recompute DKIM, SPF and DMARC (--offline without --zone or --replay)", "Drop --offline, or add `--zone FILE` or `--replay FILE`.")
    return OutcomeGroup("verify", "verification check", "not run", "maildiag recomputes DKIM, SPF, DMARC and ARC only from a full message with DNS answers", "Analyze the original .eml file without --offline.")


def _from_domain(entry: dict) -> str:
    identities = entry.get("identities") or {}
    domain = (identities.get("from") or {}).get("domain")
    domain = domain or entry.get("domain") or (entry.get("dns") or {}).get("domain")
    domain = domain or ((entry.get("ses") or {}).get("config") or {}).get("from_domain")
    return str(domain or "")


def _sent_elsewhere(entry: dict) -> bool:
    """Tell whether the message's headers show a sender other than Amazon SES.

    Strong evidence naming another service does. So does a received message (one with
    Received fields) that shows no trace of SES at all. Any other input keeps the SES
    advice, because the user may not have pasted every field.
    """
    identities = entry.get("identities") or {}
    if "input" not in entry:
        return False
    service = identities.get("esp")
    if service:
        return service != "amazonses"
    traces = [evidence for evidence in identities.get("esp_evidence") or () if evidence.get("esp") == "amazonses"]
    received = (entry.get("received") or {}).get("hops")
    return not traces and not identities.get("esp_unconfirmed") and bool(received)


def _region(entry: dict) -> str:
    """Return the SES region the entry names: the Feedback-ID's, the expectations file's or the checked one."""
    feedback = ((entry.get("identities") or {}).get("feedback_id") or {}).get("region")
    expected = ((entry.get("dns") or {}).get("expectations") or {}).get("region")
    checked = (entry.get("ses") or {}).get("region")
    return str(feedback or expected or checked or "")

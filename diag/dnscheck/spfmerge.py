"""Merge several SPF records at one name into the one record to publish (RFC 7208 section 4.5).

The merged record authorises every sender that any of the records authorises:

- Each mechanism is kept once, in the order first seen.
- A `redirect=` of a record without an `all` term becomes `include:` of the same domain.
  Redirect hands the whole evaluation to the target (RFC 7208 section 6.1), and in one
  merged record an include gives the same pass for the target's senders, while the merged
  record's own `all` decides the rest. A redirect in a record that also has `all` is
  ignored by receivers (RFC 7208 section 6.1), so it is dropped.
- The `all` term is the strictest of `-all` and `~all` found in the records, else `~all`.
  `?all` and `+all` are never kept: they let any host send unjudged or pass.
"""

from dataclasses import dataclass, field

# Qualifiers of the all term, strictest first. Only these two are ever suggested.
SUGGESTED_ALL = ("-all", "~all")
DEFAULT_ALL = "~all"


@dataclass
class MergedRecord:
    record: str
    all_term: str
    # Sentences for the report: which all term was kept and why, redirects converted or dropped.
    notes: list[str] = field(default_factory=list)


def _terms(record: str) -> list[str]:
    return [part for part in record.split(" ") if part][1:]


def _is_all(term: str) -> bool:
    return term.lower().lstrip("+-~?") == "all"


def _dedup_key(term: str) -> str:
    # "+" is the default qualifier (RFC 7208 section 4.6.2), so "+mx" and "mx" are one term.
    lowered = term.lower()
    return lowered[1:] if lowered.startswith("+") else lowered


def _choose_all(found: list[tuple[int, str]]) -> tuple[str, str]:
    """Return (all term, sentence saying why) from the (record number, term) pairs found."""
    normalised = [(number, "+all" if term.lower() == "all" else term.lower()) for number, term in found]
    for candidate in SUGGESTED_ALL:
        sources = [number for number, term in normalised if term == candidate]
        if sources:
            dropped = sorted({term for _, term in normalised if term != candidate})
            sentence = f"The merged record ends in {candidate}, taken from record {', '.join(map(str, sources))}"
            if dropped:
                sentence += f"; {', '.join(dropped)} of the other records {'is' if len(dropped) == 1 else 'are'} dropped, because {candidate} is the strictest all term found"
                if any(term in ("?all", "+all") for term in dropped):
                    sentence += " and ?all or +all would let any host send unjudged"
            return candidate, sentence + "."
    if normalised:
        weak = sorted({term for _, term in normalised})
        return DEFAULT_ALL, f"The merged record ends in {DEFAULT_ALL}: the records have only {', '.join(weak)}, which would let any host send unjudged."
    return DEFAULT_ALL, f"The merged record ends in {DEFAULT_ALL}, because none of the records has an all term."


def merge_records(records: list[str]) -> MergedRecord:
    """Merge `records` (each starting with v=spf1) into one record; see the module docstring."""
    terms: list[str] = []
    seen: set[str] = set()
    all_terms: list[tuple[int, str]] = []
    notes: list[str] = []
    exp_kept = None

    for number, record in enumerate(records, start=1):
        parts = _terms(record)
        has_all = any(_is_all(part) for part in parts)
        for part in parts:
            lowered = part.lower()
            if _is_all(part):
                all_terms.append((number, part))
                continue
            if lowered.startswith("redirect="):
                target = part.split("=", 1)[1]
                if has_all:
                    notes.append(f"{part} of record {number} is dropped: receivers ignore redirect in a record that has an all term (RFC 7208 section 6.1).")
                    continue
                part = f"include:{target}"
                notes.append(f"redirect={target} of record {number} becomes {part}, so its senders still pass and the merged record's all term decides the rest.")
            elif lowered.startswith("exp="):
                # RFC 7208 section 6: exp may appear once in a record.
                if exp_kept is not None:
                    notes.append(f"{part} of record {number} is dropped: a record may have one exp=, and {exp_kept} is kept.")
                    continue
                exp_kept = part
            key = _dedup_key(part)
            if key not in seen:
                seen.add(key)
                terms.append(part)

    all_term, sentence = _choose_all(all_terms)
    # RFC 7208 section 4.6.2: terms after all are never evaluated, so all comes last;
    # a modifier such as exp= may follow it.
    mechanisms = [term for term in terms if not term.lower().startswith("exp=")]
    modifiers = [term for term in terms if term.lower().startswith("exp=")]
    record = " ".join(["v=spf1", *mechanisms, all_term, *modifiers])
    return MergedRecord(record=record, all_term=all_term, notes=[sentence, *notes])

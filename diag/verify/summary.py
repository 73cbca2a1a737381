"""Summarise `verify.*` as report rows (check, result, detail) beside the receiver's verdicts."""


def _receiver(entry: dict) -> str:
    value = entry.get("receiver_result")
    return f"; receiver: {value}" if value else ""


def _dkim_row(signature: dict) -> dict:
    tags = f"d={signature.get('d')} s={signature.get('s')}"
    bits = f", {signature['key_bits']}-bit key" if signature.get("key_bits") else ""
    return {
        "check": f"DKIM {signature['index']}",
        "result": signature.get("result", ""),
        "detail": f"{tags}{bits}: {signature.get('detail', '')}{_receiver(signature)}",
    }


def _spf_row(spf: dict) -> dict:
    parts = [f"IP {spf.get('ip')} (from {spf.get('ip_source')})"]
    if spf.get("mailfrom"):
        parts.append(f"smtp.mailfrom={spf['mailfrom']}")
    if spf.get("helo_result"):
        parts.append(f"HELO {spf.get('helo')}: {spf['helo_result']}")
    return {"check": "SPF", "result": spf.get("mailfrom_result", "none"), "detail": ", ".join(parts) + _receiver(spf)}


def _dmarc_row(dmarc: dict) -> dict:
    parts = [f"header.from={dmarc.get('from_domain')}"]
    if dmarc.get("policy"):
        parts.append(f"p={dmarc['policy']}")
    parts.append(f"SPF aligned: {'yes' if dmarc.get('spf_aligned') else 'no'}")
    parts.append(f"DKIM aligned: {'yes' if dmarc.get('dkim_aligned') else 'no'}")
    if dmarc.get("detail"):
        parts.append(dmarc["detail"])
    return {"check": "DMARC", "result": dmarc.get("result", ""), "detail": ", ".join(parts) + _receiver(dmarc)}


def verification_rows(entry: dict) -> list[dict]:
    """Return one row per check maildiag recomputed for a message report entry; [] when none ran."""
    verify = entry.get("verify")
    if not verify:
        return []
    if verify.get("skipped"):
        return [{"check": "Verify", "result": "skipped", "detail": verify["skipped"]}]

    rows = [_dkim_row(signature) for signature in verify.get("dkim", [])]
    if verify.get("arc"):
        arc = verify["arc"]
        rows.append({"check": "ARC", "result": arc.get("result", ""), "detail": (arc.get("detail") or "") + _receiver(arc)})
    if verify.get("spf"):
        rows.append(_spf_row(verify["spf"]))
    if verify.get("dmarc"):
        rows.append(_dmarc_row(verify["dmarc"]))
    if verify.get("error"):
        rows.append({"check": "Message", "result": "permerror", "detail": verify["error"]})
    return rows

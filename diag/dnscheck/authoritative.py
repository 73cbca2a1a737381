"""`maildiag dns --authoritative`: ask the zone's own nameservers and compare their answers.

Right after a DNS change, a recursive resolver may still serve the old answer from its cache,
and a secondary nameserver may not have transferred the new zone yet (RFC 1996 section 1.1
calls this "incoherence among authority servers"). This mode collects the facts from
every nameserver of the zone that answers, so the posture rules can judge each server's
answers, and compares the servers' answers to every in-zone question that any of them was
asked.
"""

import logging

from diag.dns import resolver as status
from diag.dns.live import authoritative_resolvers
from diag.dns.resolver import Answer, Resolver
from diag.dnscheck.collect import collect_dns_facts
from diag.dnscheck.evidence import MemoResolver, evidence
from diag.errors import InputError, TemporaryFailure

log = logging.getLogger(__name__)


def in_zone(name: str, zone: str) -> bool:
    name = name.rstrip(".").lower()
    return name == zone or name.endswith("." + zone)


class ZoneRouter:
    """Send questions inside `zone` to one authoritative server and the rest to `fallback`.

    An authoritative-only server answers REFUSED (or with a referral) when a CNAME leads out
    of its zone, as the Easy DKIM CNAMEs into dkim.amazonses.com do. The router then asks
    `fallback` (the run's resolver) for the target and joins the two parts of the chain.
    """

    def __init__(self, server, zone: str, fallback: Resolver) -> None:
        self.server = server
        self.zone = zone
        self.fallback = fallback

    def query(self, name: str, rdtype: str) -> Answer:
        if not in_zone(name, self.zone):
            return self.fallback.query(name, rdtype)

        answer = self.server.query(name, rdtype)
        if not (answer.temporary and answer.cname_chain) or in_zone(answer.cname_chain[-1], self.zone):
            return answer

        target = answer.cname_chain[-1]
        log.debug("%s left zone %s at %s; asking %r for the target", name, self.zone, target, self.fallback)
        rest = self.fallback.query(target, rdtype)
        return Answer(
            name=answer.name,
            rdtype=answer.rdtype,
            status=rest.status,
            records=rest.records,
            cname_chain=answer.cname_chain + rest.cname_chain,
            ttl=rest.ttl,
            server=f"{answer.server}, then {rest.server}",
            detail=rest.detail,
        )


def _server_fact(server, soa: Answer) -> dict:
    serial = None
    if soa.status == status.OK and soa.records:
        # SOA presentation form: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM.
        serial = int(soa.records[0].split()[2])
    nameserver = server.nameservers[0]
    host, port = str(nameserver.address), int(nameserver.port)
    return {
        "name": server.host_name,
        "address": str(nameserver),
        "host": host,
        "port": port,
        # The server as dig(1) takes it, for the report's "check with" commands.
        "dig": f"@{host}" + (f" -p {port}" if port != 53 else ""),
        "label": f"{server.host_name} ({host})",
        "answered": not soa.temporary,
        "serial": serial,
        "soa_status": soa.status,
    }


def _comparable(answer: Answer) -> tuple:
    return answer.status, tuple(sorted(answer.records)), tuple(answer.cname_chain)


def check_authoritative(domain: str, expectations, bootstrap: Resolver, *, port: int = 53, timeout: float = 2.0) -> tuple[dict, list[tuple[dict, dict]]]:
    """Collect the `dns` facts of `domain` from each of its zone's nameservers.

    Returns the facts of the first server that answered, with `dns.authoritative` added,
    and (server fact, dns facts) for every other server that answered, so the caller can
    run the posture rules on each server's answers.
    """
    servers = authoritative_resolvers(domain, bootstrap, port=port, timeout=timeout)
    if not servers:
        raise InputError(f"no nameserver of {domain} has an address; check the NS records of its zone and their A and AAAA records")
    zone = servers[0].zone
    routers = [MemoResolver(ZoneRouter(server, zone, bootstrap)) for server in servers]

    # Step 1: the SOA from every server. A server that does not answer is left out of the
    # comparison, so one dead secondary costs one timeout, not one per question.
    soas = [router.query(zone, "SOA") for router in routers]
    server_facts = [_server_fact(server, soa) for server, soa in zip(servers, soas)]
    reachable = [index for index, soa in enumerate(soas) if not soa.temporary]
    temperrors = [{"nameserver": servers[index].host_name, **evidence(soa)} for index, soa in enumerate(soas) if soa.temporary]
    if not reachable:
        details = "; ".join(f"{fact['name']} ({fact['address']}): {soa.status}" for fact, soa in zip(server_facts, soas))
        raise TemporaryFailure(f"no nameserver of {zone} answered the SOA query ({details}); retry later")

    # Step 2: the facts, from every server that answered. Servers that disagree may lead
    # to different questions (an include only one of them publishes), so each is walked.
    collected = {index: collect_dns_facts(routers[index], domain, expectations) for index in reachable}
    facts = collected[reachable[0]]

    # Step 3: every in-zone question that any server was asked, to every server that answered.
    # The routers remember their answers, so a question already asked costs no query.
    questions = [(zone, "SOA")]
    for index in reachable:
        for name, rdtype in routers[index].queries:
            if in_zone(name, zone) and (name, rdtype) not in questions:
                questions.append((name, rdtype))
    disagreements = []
    for name, rdtype in questions:
        answers = [(servers[index], routers[index].query(name, rdtype)) for index in reachable]
        failed = [(server, answer) for server, answer in answers if answer.temporary]
        if failed:
            temperrors.extend({"nameserver": server.host_name, **evidence(answer)} for server, answer in failed)
            continue
        if len({_comparable(answer) for _, answer in answers}) > 1:
            disagreements.append({
                "name": name,
                "type": rdtype,
                "answers": [{"nameserver": server.host_name, **evidence(answer)} for server, answer in answers],
            })

    # Step 4: the verdict. A disagreement is a finding even when another server timed out.
    serials = {fact["serial"] for fact in server_facts if fact["serial"] is not None}
    if disagreements:
        verdict = "disagree"
    elif temperrors:
        verdict = "temperror"
    else:
        verdict = "ok"
    facts["authoritative"] = {
        "zone": zone,
        "status": verdict,
        "servers": server_facts,
        "serials_differ": len(serials) > 1,
        "max_serial": max(serials) if serials else None,
        # NOTE: plain integer comparison; a serial that wrapped around (RFC 1982) is reported
        # as lagging behind the others until every server has it.
        "lagging": [f"{fact['name']} ({fact['address']})" for fact in server_facts if fact["serial"] is not None and fact["serial"] < max(serials)],
        "lagging_servers": [fact for fact in server_facts if fact["serial"] is not None and fact["serial"] < max(serials)],
        "silent_servers": [fact for fact in server_facts if not fact["answered"]],
        "questions_compared": len(questions),
        "disagreements": disagreements,
        "temperrors": temperrors,
    }
    facts["temperror"] = facts["temperror"] or verdict == "temperror"
    log.debug("authoritative check of %s in zone %s: %s, %d questions, %d disagreements", domain, zone, verdict, len(questions), len(disagreements))
    others = [(server_facts[index], collected[index]) for index in reachable[1:]]
    return facts, others

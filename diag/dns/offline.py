"""The resolver of an offline run without zone files or a recording: it sends nothing."""

from diag.dns import resolver as status
from diag.dns.resolver import Answer

OFFLINE_DETAIL = "offline: no DNS lookups"


class OfflineResolver:
    """Answer every question `refused`, so DNS checks end as temperror, not as "no record"."""

    def __init__(self) -> None:
        self.questions = 0

    def query(self, name: str, rdtype: str) -> Answer:
        self.questions += 1
        return Answer(name=name.rstrip(".").lower(), rdtype=rdtype.upper(), status=status.REFUSED, server="offline", detail=OFFLINE_DETAIL)

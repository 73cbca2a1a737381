"""Build and send a probe message through SES, within the sandbox, rate and quota limits.

The probe is a text and HTML message whose Subject and X-Maildiag-Probe header carry a
unique token, so its received headers can be found and fed to `maildiag analyze`.
"""

import logging
import random
import secrets
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from diag.errors import UsageError

log = logging.getLogger(__name__)

SIMULATOR_DOMAIN = "simulator.amazonses.com"
# Mailbox simulator scenarios (SES Developer Guide, "Using the mailbox simulator").
SIMULATOR_NAMES = ("success", "bounce", "complaint", "ooto", "suppressionlist")
PROBE_HEADER = "X-Maildiag-Probe"

# Throttling retries: 5 attempts, waits of 1, 2, 4 and 8 s (capped at 20 s) plus up to 50%
# jitter, as the AWS SDKs' "exponential backoff and jitter" guidance describes.
MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 20.0


@dataclass
class Recipient:
    address: str
    simulator: bool


def resolve_recipient(value: str) -> Recipient:
    """Map `success`, `bounce+label`, ... to the simulator address; keep other addresses."""
    from diag.ses.config import parse_from_address

    local = value.strip()
    base = local.split("+", 1)[0].lower()
    if "@" not in local and base in SIMULATOR_NAMES:
        return Recipient(f"{local.lower()}@{SIMULATOR_DOMAIN}", True)
    if "@" not in local:
        raise UsageError(f"--to {value!r}: not an address; use an address or one of {', '.join(SIMULATOR_NAMES)} (with an optional +label)")

    address, problem = parse_from_address(local)
    if problem:
        raise UsageError(f"--to {value!r} {problem}")
    return Recipient(address, address.rpartition("@")[2].lower() == SIMULATOR_DOMAIN)


def new_token() -> str:
    """Return a probe token: 'mdp-' and 16 random hex digits."""
    return "mdp-" + secrets.token_hex(8)


def build_message(sender: str, recipient: str, token: str, configuration_set: str | None = None) -> EmailMessage:
    """Return the probe: multipart/alternative with a text/plain and a text/html part."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = f"maildiag probe {token}"
    message["Date"] = formatdate(localtime=False, usegmt=True)
    # SES replaces Message-ID with its own; this one identifies the probe if it does not.
    message["Message-ID"] = make_msgid(idstring=token, domain=sender.rpartition("@")[2])
    message[PROBE_HEADER] = token
    if configuration_set:
        # The SMTP interface reads the configuration set from this header (SES Developer
        # Guide, "Specifying a configuration set when you send email").
        message["X-SES-CONFIGURATION-SET"] = configuration_set

    text = (
        f"This is a maildiag probe, token {token}.\n\n"
        "Open this message in the receiving mailbox, show its original source, save the headers\n"
        "to a file and run: maildiag analyze FILE\n"
    )
    message.set_content(text)
    message.add_alternative(
        "<!DOCTYPE html><html><body>"
        f"<p>This is a maildiag probe, token <code>{token}</code>.</p>"
        "<p>Open this message in the receiving mailbox, show its original source, save the headers "
        "to a file and run <code>maildiag analyze FILE</code>.</p>"
        "</body></html>",
        subtype="html",
    )
    return message


class RateLimiter:
    """Spaces sends at least `interval` seconds apart."""

    def __init__(self, interval: float, clock=time.monotonic, sleep=time.sleep):
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self.last: float | None = None

    def wait(self) -> None:
        if self.last is not None:
            remaining = self.interval - (self.clock() - self.last)
            if remaining > 0:
                log.debug("waiting %.2f s to stay under the send rate", remaining)
                self.sleep(remaining)
        self.last = self.clock()


def send_interval(max_send_rate: float | None) -> float:
    """Return seconds between sends: at most 1 per second, slower if the account's rate is lower."""
    if not max_send_rate or max_send_rate <= 0:
        return 1.0
    return max(1.0, 1.0 / max_send_rate)


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Return the wait before retry `attempt` (1-based): capped exponential plus jitter."""
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return base + (rng or random).uniform(0, base / 2)


def with_backoff(send, is_throttled, sleep=time.sleep, operation: str = "send"):
    """Call `send()` and retry it while `is_throttled(error)` holds, at most MAX_ATTEMPTS times."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return send()
        except Exception as error:
            if not is_throttled(error) or attempt == MAX_ATTEMPTS:
                raise
            delay = backoff_delay(attempt)
            log.warning("%s throttled (attempt %d of %d); retrying in %.1f s", operation, attempt, MAX_ATTEMPTS, delay)
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")

"""Write the audit sample folder: .eml files, an mbox, a Maildir, an Outlook .msg and bad inputs.

Run from the repository root: .venv/bin/python samples/audit/make_samples.py
The .msg file is a minimal compound file written by tests/test_audit_msg.py, because no
package in the project's environment writes Outlook .msg files.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent.parent))

from tests.test_audit_msg import write_msg  # noqa: E402

# SES with the default MAIL FROM and no Easy DKIM, received by Microsoft 365 and junked.
SES_TO_M365 = """\
Received: from BN9PR03CA0555.namprd03.prod.outlook.com (2603:10b6:408:138::20)
 by BN8PR04MB6123.namprd04.prod.outlook.com with Microsoft SMTP Server
 (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.8722.11;
 Tue, 3 Nov 2026 09:{minute:02d}:07 +0000
Authentication-Results: spf=pass (sender IP is 192.0.2.27)
 smtp.mailfrom=eu-west-1.amazonses.com; dkim=pass (signature was verified)
 header.d=amazonses.com;dmarc=fail action=quarantine
 header.from={domain};compauth=fail reason=000
Received: from a2-27.smtp-out.eu-west-1.amazonses.com (192.0.2.27) by
 BN2PEPF000044A1.mail.protection.outlook.com (10.167.243.152) with Microsoft
 SMTP Server (version=TLS1_3, cipher=TLS_AES_256_GCM_SHA384) id 15.20.8722.11
 via Frontend Transport; Tue, 3 Nov 2026 09:{minute:02d}:05 +0000
X-Forefront-Antispam-Report: CIP:192.0.2.27;CTRY:IE;LANG:en;SCL:5;SRV:;IPV:NLI;
 SFV:SPM;H:a2-27.smtp-out.eu-west-1.amazonses.com;PTR:a2-27.smtp-out.eu-west-1.amazonses.com;
 CAT:SPOOF;SFS:;DIR:INB;
DKIM-Signature: v=1; a=rsa-sha256; q=dns/txt; c=relaxed/simple; s=ses1;
 d=amazonses.com; t=1793704444; h=From:To:Subject:Date:Message-ID;
 bh=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=; b=U2FtcGxlU2lnbmF0dXJl
From: Accounts Receivable <invoices@{domain}>
To: Payables <ap@example.net>
Subject: Invoice {number} from Example Ltd
Message-ID: <0102019a4c5e1f3a-{number}-000000@eu-west-1.amazonses.com>
Date: Tue, 3 Nov 2026 09:{minute:02d}:04 +0000
Feedback-ID: ::1.eu-west-1.U2FtcGxlRmVlZGJhY2s=:AmazonSES
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Invoice {number} is attached.
"""

# SES with Easy DKIM and a custom MAIL FROM, received by Gmail: everything passes.
SES_TO_GMAIL = """\
Received: by 2002:a05:6a10:9e8b:b0:5b1:1f2c:4d3e with SMTP id u11csp123456pxb;
        Tue, 3 Nov 2026 10:{minute:02d}:09 -0800 (PST)
Authentication-Results: mx.google.com;
       dkim=pass header.i=@example.org header.s=tok1 header.b=QWxpZ25l;
       dkim=pass header.i=@amazonses.com header.s=ses1 header.b=U2VzU2ln;
       spf=pass (google.com: domain of bounce@mail.example.org designates 198.51.100.7 as permitted sender) smtp.mailfrom=bounce@mail.example.org;
       dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=example.org
Received: from a7-1.smtp-out.us-west-2.amazonses.com (a7-1.smtp-out.us-west-2.amazonses.com. [198.51.100.7])
        by mx.google.com with ESMTPS id 5a478bee46e88-2b0c1d2e3f4sor12345eec.12.2026.11.03.10.{minute:02d}.07
        for <customer@example.net>
        (version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256 bits=128/128);
        Tue, 03 Nov 2026 10:{minute:02d}:07 -0800 (PST)
DKIM-Signature: v=1; a=rsa-sha256; q=dns/txt; c=relaxed/simple; s=tok1;
 d=example.org; t=1793740000; h=From:To:Subject:Date:Message-ID;
 bh=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=; b=QWxpZ25lZFNpZ25hdHVyZQ==
DKIM-Signature: v=1; a=rsa-sha256; q=dns/txt; c=relaxed/simple; s=ses1;
 d=amazonses.com; t=1793740000; h=From:To:Subject:Date:Message-ID;
 bh=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=; b=U2VzU2lnbmF0dXJl
From: Billing <billing@example.org>
To: customer@example.net
Subject: Invoice {number}
Message-ID: <0101019a4c5e1f3a-{number}-000000@us-west-2.amazonses.com>
Date: Tue, 3 Nov 2026 18:{minute:02d}:06 +0000
Feedback-ID: 1.us-west-2.U2FtcGxlRmVlZGJhY2s=:AmazonSES
List-Unsubscribe: <mailto:unsubscribe@example.org?subject=unsubscribe>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Invoice {number} is attached.
"""

# Yahoo: DMARC fails because SPF passes for a bounce domain that is not aligned and no DKIM.
SES_TO_YAHOO = """\
Received: from 198.51.100.9 (EHLO a9-1.smtp-out.eu-west-1.amazonses.com)
 by 203.0.113.10 with SMTPs; Tue, 03 Nov 2026 11:{minute:02d}:09 +0000
Authentication-Results: atlas-production.v2-mail-prod1-gq1.omega.yahoo.com;
 dkim=pass header.i=@amazonses.com header.s=ses1;
 spf=pass smtp.mailfrom=eu-west-1.amazonses.com;
 dmarc=fail(p=REJECT) header.from={domain};
From: Shop <orders@{domain}>
To: buyer@example.com
Subject: Order {number}
Date: Tue, 03 Nov 2026 11:{minute:02d}:02 +0000
Message-ID: <0102019a-{number}@eu-west-1.amazonses.com>
"""

# Header values that carry markup: a report must show them as text and run nothing.
HOSTILE = """\
Received: from mail.example.net (mail.example.net [192.0.2.66])
 by mx.example.com with ESMTPS; Tue, 03 Nov 2026 12:00:09 +0000
Authentication-Results: mx.example.com; spf=fail smtp.mailfrom=x@example.net;
 dmarc=fail header.from=example.net
From: "\\"><img src=x onerror=alert(1)><script>alert(2)</script>" <attacker@example.net>
To: victim@example.com
Subject: <script>alert(3)</script>
Date: Tue, 03 Nov 2026 12:00:00 +0000
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def mbox(messages: list[str]) -> str:
    """Return an mbox (mboxo, RFC 4155) of `messages`, each after a "From " line and a blank line after."""
    return "".join(f"From MAILER-DAEMON Tue Nov  3 09:00:00 2026\n{message.rstrip()}\n\n" for message in messages)


def main() -> None:
    write(ROOT / "eml" / "ses-m365-0042.eml", SES_TO_M365.format(domain="example.com", number="2026-11-0042", minute=14))
    write(ROOT / "eml" / "ses-gmail-0043.eml", SES_TO_GMAIL.format(number="2026-11-0043", minute=15))
    write(ROOT / "eml" / "nested" / "ses-yahoo-7001.txt", SES_TO_YAHOO.format(domain="example.net", number="7001", minute=1))
    write(ROOT / "eml" / "hostile-markup.eml", HOSTILE)

    write(ROOT / "invoices.mbox", mbox([
        SES_TO_M365.format(domain="example.com", number="2026-11-0044", minute=20),
        SES_TO_GMAIL.format(number="2026-11-0045", minute=21),
        SES_TO_YAHOO.format(domain="example.net", number="7002", minute=22),
    ]))

    maildir = ROOT / "Maildir"
    write(maildir / "new" / "1793700000.M1P100.mx.example.net", SES_TO_GMAIL.format(number="2026-11-0046", minute=30))
    write(maildir / "cur" / "1793700001.M2P100.mx.example.net", SES_TO_M365.format(domain="example.org", number="2026-11-0047", minute=31))
    # Git keeps no empty folders, and a Maildir needs tmp/.
    write(maildir / "tmp" / ".keep", "")

    # Outlook stores the transport headers with CRLF line ends, ending with the blank line.
    headers = SES_TO_M365.format(domain="example.com", number="2026-11-0048", minute=40).split("\n\n")[0]
    (ROOT / "outlook").mkdir(exist_ok=True)
    write_msg(ROOT / "outlook" / "invoice-0048.msg", headers.replace("\n", "\r\n") + "\r\n\r\n",
              subject="Invoice 2026-11-0048 from Example Ltd", body="Invoice 2026-11-0048 is attached.")

    bad = ROOT / "bad"
    write(bad / "empty.eml", "")
    (bad / "binary.eml").write_bytes(bytes(range(256)) * 4)
    write(bad / "not-ole.msg", "This file is named .msg but is plain text, not an Outlook compound file.\n")
    # The last message stops in the middle of a header field, and the file has no final line break.
    truncated = mbox([SES_TO_GMAIL.format(number="2026-11-0049", minute=50)]) + "From MAILER-DAEMON Tue Nov  3 09:00:00 2026\nReceived: from a7-1.smtp-out.us-west-2.amazon"
    write(bad / "truncated.mbox", truncated)


if __name__ == "__main__":
    main()

"""DNS posture checks for a domain that sends through Amazon SES.

`collect.collect_dns_facts` fills the `dns.*` part of the Facts document; `command.dns_command`
is the `maildiag dns` command. Every query goes through one `diag.dns.resolver.Resolver`.
"""

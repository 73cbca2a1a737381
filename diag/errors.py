"""Exceptions that end a command with a one-line message and an exit code.

    MaildiagError             exit 2
    +-- InputError            a message or paste that cannot be read
    +-- RuleFileError         a rule file that fails validation
    +-- UsageError            options that do not fit together
    TemporaryFailure          exit 3, a lookup that may work on retry
"""

from diag import exitcodes


class MaildiagError(Exception):
    exit_code = exitcodes.USAGE


class InputError(MaildiagError):
    pass


class RuleFileError(MaildiagError):
    pass


class UsageError(MaildiagError):
    pass


class TemporaryFailure(MaildiagError):
    exit_code = exitcodes.COULD_NOT_CHECK

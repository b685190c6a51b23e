"""Error types that map onto the CLI's exit codes.

Every step raises one of these for a condition a user can act on, so that the
CLI, the DVC stage and the Airflow task all report the same words and the same
exit status: 1 for a clean "no" (a gate or a check said no), 2 for bad usage or
unusable input.
"""

from __future__ import annotations


class HrlrecError(Exception):
    """Base class: a failure with a message meant for a person, not a traceback."""

    exit_code: int = 2


class BadInput(HrlrecError):
    """The input cannot be used (bad parameter, missing file, broken contract)."""

    exit_code = 2


class ConfigError(BadInput):
    """params.yaml or a `-S key=value` override is invalid; the message names the key."""


class ContractError(BadInput):
    """A day of logs breaks the data contract; the message names file, column and rows."""


class Rejected(HrlrecError):
    """A check ran and said no (validation or a gate failed): a clean exit 1."""

    exit_code = 1


class Busy(HrlrecError):
    """Another process is writing the same output (a lock is held): nothing was touched; try again later."""

    exit_code = 2

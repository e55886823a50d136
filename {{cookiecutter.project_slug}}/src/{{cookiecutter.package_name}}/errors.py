"""Every error a stage raises, below everything that raises it: the CLI only catches."""


class StageError(Exception):
    """A stage cannot finish; the message says why (the CLI exits with 1)."""


class ConfigError(ValueError):
    """The configuration cannot be composed or does not match the settings schema."""


class DataValidationError(StageError, ValueError):
    """Data does not match the contract; the message names each column and row."""


class ContractError(StageError, ValueError):
    """A contract does not fit its file (target or column absent, too many values)."""


class DataFileError(StageError, ValueError):
    """A data file cannot be read as a table: empty, not UTF-8, a malformed line, a
    column named twice; the message names the file and the line."""

"""One error root; the library raises, the CLI reports."""


class AuditError(Exception):
    """Base of every error callaudit raises on purpose. The message names the item and the fix."""


class ConfigError(AuditError):
    """audit.toml is missing, unreadable or has a bad value."""


class IndexError_(AuditError):
    """The call index cannot be read at all (a bad row is not an error: it is reported and skipped)."""


class AudioError(AuditError):
    """A recording cannot be decoded (missing, empty, corrupt, unsupported codec)."""


class ModelError(AuditError):
    """No usable Whisper weights were found, or they failed their check."""


class RuleError(AuditError):
    """A rule file is invalid. The message names file, rule and field."""


class LockError(AuditError):
    """Another run holds the workspace lock."""

"""callaudit: quality audit of utility hotline call recordings.

Stages, each its own module, imported one way:
index -> sampling -> audio -> transcribe -> acoustic/rules -> scoring -> store -> reports.
"""

from audit.errors import AuditError

__version__ = "0.1.0"
__all__ = ["AuditError", "__version__"]

"""Personal-data redaction for customer messages: see `kbsuggest.privacy.redact`."""

from kbsuggest.privacy.redact import PLACEHOLDERS, PiiKind, PiiSpan, Redaction, find_pii, redact

__all__ = ["PLACEHOLDERS", "PiiKind", "PiiSpan", "Redaction", "find_pii", "redact"]

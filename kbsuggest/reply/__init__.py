"""Reply drafts: editor-owned phrase templates and the deterministic composer."""

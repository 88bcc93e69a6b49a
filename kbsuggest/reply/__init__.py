"""Reply drafts: the deterministic composer over the editor-owned phrase templates (`kbsuggest.articles.templates`)."""

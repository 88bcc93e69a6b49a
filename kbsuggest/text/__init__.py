"""Text handling shared by every stage: normalisation, language detection, tokenisation, and what a customer says
about their own case (`situation`), read by retrieval and by the reply drafts."""

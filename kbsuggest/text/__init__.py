"""Text handling shared by every stage: normalisation, language detection, tokenisation."""

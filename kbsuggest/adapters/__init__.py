"""Thin adapters to agent frameworks, each an optional extra: `kbsuggest.adapters.langchain`
(`pip install 'kbsuggest[langchain]'`) and `kbsuggest.adapters.llamaindex` (`pip install 'kbsuggest[llamaindex]'`)."""

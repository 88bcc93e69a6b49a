"""Ways to reach a `KnowledgeBase` from outside Python: an MCP server and an HTTP service.

Each is a thin layer over `kbsuggest.tools` and the library; none holds logic of its own.
"""

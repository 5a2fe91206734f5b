"""The language server (`criteria lsp`): rule files in the editor.

`server.py` speaks the Language Server Protocol through pygls; everything it answers comes from
plain functions over one analysed document (`features.py`, `completion.py`), which read the
checker only through `adapter.py`. Positions are converted in `positions.py` (LSP counts UTF-16
code units by default; our spans count characters). pygls is imported by `server.py` alone, so
the rest is usable (and tested) without it.
"""

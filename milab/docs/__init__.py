"""The documentation regression gate: ``milab docs check`` and ``milab docs map``.

Modules: :mod:`.parser` (Learn markdown and the PDF-export text), :mod:`.facts` (what a
page states: HTTP calls, roles, commands, placeholders ...), :mod:`.rules` (the checks),
:mod:`.knowledge` (data the checks use), :mod:`.report` (Markdown, JSON, JUnit),
:mod:`.gate` (changed pages, running the affected scenarios) and :mod:`.cli`.
"""

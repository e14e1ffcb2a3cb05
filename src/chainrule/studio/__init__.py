"""chainrule studio: a local web page to step through backpropagation and train live.

A face over the library, like the command line: :mod:`~chainrule.studio.server` serves
the page and the JSON API (:mod:`~chainrule.studio.api`), whose sessions
(:mod:`~chainrule.studio.sessions`) call :func:`chainrule.explain`, :func:`chainrule.fit`,
:mod:`chainrule.io` and :mod:`chainrule.data`; the page only renders what they return.
Needs the ``studio`` extra (FastAPI and uvicorn): ``pip install "chainrule[studio]"``.
Start it with ``chainrule studio``; the API is described in docs/studio.md.
"""

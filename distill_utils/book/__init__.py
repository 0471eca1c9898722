"""The book's plumbing: what turns recorded runs into pages, beside the lesson and never inside it.

`narrative` (the sentences the book states, made from recorded figures), `tables` (headers, units,
formats), `goals` (the targets a recorded run is held to), `results` (chapter 6's summary of a
whole run), `notebook` (a chapter's setup, glue, `show_source`), `pipeline` (papermill, then the
book). Nothing in the lesson imports from here.
"""

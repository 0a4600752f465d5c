"""The Gradio app's pieces: the shared network (`model`), the Stylize tab's handlers
(`handlers`), the upload guard (`uploads`), the page's text (`text`), and one module
per further tab.

Gradio lives here and in `app.py` only; the library `nst` never imports it.
"""

"""The Gradio app's pieces. Every tab (Stylize, Explore, Why it works, Paper) is
`<tab>_tab.py` (its layout and events) with its handlers in `<tab>_handlers.py` /
`paper_cells.py`; they share the page's shape (`page`), the one network (`model`), the run
service (`runs`: one GPU entry point, Stop and streaming), the GPU policy (`gpu`), each
visitor's runs (`visitors`), the caps (`limits`), the one-line refusals of bad input
(`guards`, `errors`), the Stylize controls and their widgets (`controls`), sharing and
restoring a run (`share_handlers`, `links`, `your_runs`) and the page's words (`text`).

Gradio lives here and in `app.py` only; the library `nst` never imports it.
"""

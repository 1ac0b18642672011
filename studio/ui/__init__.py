"""The Gradio UI of the app, one module per tab; ``app.py`` assembles it (``build_demo``) and serves it."""

"""`vaekit explore`: a live latent explorer in the browser (sliders, interpolation, uploads, the latent map).

The web server (FastAPI + uvicorn) is an optional extra: `pip install 'vaekit[explore]'`. This package
imports nothing heavy itself; `vaekit.explore.app.create_app` builds the app.
"""

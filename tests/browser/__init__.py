"""Browser tests (JupyterLab + headless Chromium); see conftest.py for the harness."""

"""The notebook machinery: what every notebook's setup cell calls (``notebook``), the jupytext pairs of
``notebooks/NN_name.py`` and ``.ipynb`` (``pairs``), and the headless runner behind ``make reproduce``
(``reproduce``). Kept free of imports: ``python -m metastyle.study.nb.reproduce`` sets ``OMP_WAIT_POLICY``
before anything loads torch."""

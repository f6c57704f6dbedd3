"""What users touch: the ``metastyle`` command line and its subcommands, and the Jupyter interpolation
widget."""

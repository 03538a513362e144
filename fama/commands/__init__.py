"""Sub-commands of the ``fama`` command line, one module each."""

"""Stadsmodel's top floor: the ``stadsmodel`` CLI (``cli.py``) and the demo (``demo.py``).

They import every part; no part imports them. The contract the parts share is the ground floor, ``core``;
the generators of synthetic inputs are ``synth``; the working parts are ``etl``, ``tiles`` and ``services``.
"""

__version__ = "0.1.0"

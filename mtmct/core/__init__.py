"""The foundation every other package stands on: value types, errors, MOT I/O, typed configs and models.

Nothing here imports ``cameras``, ``fusion``, ``storage`` or the app (``mtmct`` outside ``core``);
``tests/test_layers.py`` enforces it.
"""

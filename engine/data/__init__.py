"""Prices in: the price model (``prices``), sources (``csvfolder``, ``universe``, ``yahoo``
through the ``cache``; ``sources`` opens the one a command asks for), data-quality checks
(``quality``) and the ``basket data`` store (``store``).  May use ``config`` and the ground
floor."""

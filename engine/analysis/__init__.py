"""Numbers about a simulated or aligned run: performance measures (``metrics``), inference on
them (``inference``: HAC t, bootstrap, Sharpe SE, PSR/DSR, Dimson beta, multiple tests), event
studies (``events``, a subpackage) and their test statistics (``significance``), matched
random-basket nulls (``null``) and claims checked against the data (``claims``).  May use
``portfolio`` and the stages before it."""

"""From weights to trades: weighting schemes (``weighting``), caps (``caps``), target weights
per session (``targets``), rebalancing schedules (``schedules``), costs and execution
(``costs``, ``execution``), the vectorbt simulation of every basket in one call
(``simulation`` through ``orders``) and the fast kernel for many baskets (``kernel``).  May use
``market`` and the stages before it."""

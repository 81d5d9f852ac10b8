"""Rebalancing schedules (``schedules``) and the vectorbt simulation of every basket in one
call (``simulation``).  May use ``market`` and the stages before it."""

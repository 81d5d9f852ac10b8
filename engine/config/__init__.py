"""What users write, validated into immutable objects: YAML read with line numbers
(``yamlfile``) and its fields typed with errors naming file, line and field (``fields``); how a
basket's weights are set (``weights``: weighting schemes, rebalancing schedules, point-in-time
weight tables); study files (``studies``: benchmarks, period, events, event-study settings);
basket files (``baskets``); which file is which (``validate``: a folder's basket files, one
basket or study file checked as whichever it is); claims files (``claims``) and ``--grid``
options (``grid``).  Uses only the ground floor; each module imports only the modules before it
in this list."""

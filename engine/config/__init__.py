"""What users write: YAML read with line numbers (``yamlfile``) and its fields typed with
errors naming file, line and field (``fields``), baskets and studies
(``baskets``), claims files (``claims``) and ``--grid`` options (``grid``), validated into
immutable objects.  Uses only the ground floor."""

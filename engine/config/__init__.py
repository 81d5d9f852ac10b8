"""What users write: YAML read with line numbers (``yamlfile``), baskets and studies
(``baskets``), validated into immutable objects.  Uses only the ground floor."""

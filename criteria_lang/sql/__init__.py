"""The SQL engine: rule plans as SQL over OMOP CDM v5.4 (docs/sql.md)."""

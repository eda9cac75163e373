// Placeholder: the declarative chip configuration (see issue "performance model" / "chip functional model").

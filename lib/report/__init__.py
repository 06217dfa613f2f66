"""The report use case: models, collection and concurrent reads, classification, cache, duplicates, trends,
rendering and delivery."""

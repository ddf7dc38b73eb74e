"""The run engine: graphs registry, workers that claim runs from Postgres, execution and event streams."""

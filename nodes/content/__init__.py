"""Node code of the content pipeline (``graphs/content_pipeline.py``): actions, events, topics, writing,
styling and review, each in its own module."""

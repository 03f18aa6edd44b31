"""The packaged example crawls, one folder each (``crawl.yaml``, targets, ``README.md``).

They ship inside the wheel as package data; ``healthcrawl.cli.example_crawls`` lists, copies and runs them.
"""

"""The physics checks every benchmark figure depends on, and hippynn's own periodic reference."""

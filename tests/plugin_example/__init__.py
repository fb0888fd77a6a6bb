"""A plug-in package of one's own, as CONTRIBUTING.md describes: ``FER_BENCH_PLUGINS=plugin_example``
makes fer-bench read the declarations of its modules (tests/test_plugins.py runs it)."""

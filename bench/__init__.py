"""Benchmark of the inbound webhook path: ``python -m bench`` (``make bench``).

It answers two questions a test cannot: how much throughput and latency the gateway's real
work (signature check, parsing, one Lua script, one RQ enqueue) costs compared with a bare
aiohttp handler on the same machine, and how many Redis commands and round trips each inbound
message costs. It is not collected by pytest and asserts nothing about timing.
"""

"""The process: aiohttp app, settings, HTTP routes, CLI and the embedded Redis launcher."""

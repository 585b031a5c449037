"""The core: domain types, the Redis store and its Lua scripts, the routing policy.

Knows no HTTP, no Twilio and no Slack; imports nothing else of ours.
"""

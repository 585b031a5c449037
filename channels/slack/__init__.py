"""Slack: the Bolt app for events, conversation cards, thread replies and status marks."""

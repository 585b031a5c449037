"""Local stand-ins for Twilio and Slack used by sandbox mode and by the tests."""

"""Twilio: inbound webhook parsing and signatures, outbound sends, status meanings."""

"""What the Twilio channels (SMS, WhatsApp) share: the REST client pointed at
TWILIO_API_BASE_URL (client.py), the signature of its webhooks (signature.py), inbound
forms and delivery receipts (receipts.py), and inbound media (media.py)."""

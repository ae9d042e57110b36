"""Exchange with other agencies in their standards: NENA EIDO (incidents), OASIS EDXL-HAVE
(availability of centres) and OASIS CAP 1.2 (alerts), out through a feed for partner
organizations and in as referrals. Secret places never leave through any of them."""

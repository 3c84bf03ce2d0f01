"""Networks: small typed building blocks composed into nets; each registers its architecture."""

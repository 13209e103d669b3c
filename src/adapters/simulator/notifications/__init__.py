"""``domain.ports.Notifier`` on the simulator: the notifier (notifier.py) over the account's notification
integrations and secrets (integrations.py)."""

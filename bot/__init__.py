"""The people-facing side: the `newsbot` command line, the console chat and the Telegram bot."""

"""Connecting an account: the connect/callback flow (`flow`), OAuth state sessions (`sessions`), upstream
credential checks (`verification`) and probing (`probing`).
"""

"""Helpers shared by the connector tests."""

from __future__ import annotations


async def collect(list_page, limit: int):
    """Every entry of a paged listing, following `next` to the end; also answers the page count."""
    items, cursor, pages = [], None, 0
    while True:
        page = await list_page(cursor=cursor, limit=limit)
        items.extend(page.items)
        pages += 1
        if page.next is None:
            return items, pages
        cursor = page.next

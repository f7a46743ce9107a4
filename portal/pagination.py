"""Cursor pages for server-rendered lists, with the same paginators as the API.

Large lists (requests, tickets) page by cursor on the pages too: no COUNT over everything the
user may see and no OFFSET, and a page's links are the API's `next`/`previous` URLs, which work
on the page's own path because they only carry its query string.
"""

from dataclasses import dataclass

from django.http import Http404, HttpRequest
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


@dataclass(frozen=True)
class CursorPage:
    rows: list
    previous_url: str | None
    next_url: str | None


def cursor_page(request: HttpRequest, queryset, paginator: type[CursorPagination]) -> CursorPage:
    """One page of `queryset` in `paginator`'s order; a tampered cursor answers 404."""
    pages = paginator()
    try:
        rows = pages.paginate_queryset(queryset, Request(request))
    except NotFound:
        raise Http404 from None
    return CursorPage(list(rows), pages.get_previous_link(), pages.get_next_link())

from portal.roles import is_officer, is_operator


def roles(request):
    """Role flags for navigation; computed lazily so anonymous pages cost no query."""
    user = request.user
    return {
        "is_officer": lambda: is_officer(user),
        "is_operator": lambda: is_operator(user),
    }

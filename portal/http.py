def wants_json(request) -> bool:
    """Scripts and our upload/pre-flight JavaScript ask for JSON; browsers get pages."""
    return "application/json" in request.headers.get("Accept", "")

def rate_limit_headers(get_response):
    """Every throttled API response says how many requests are left in the window and when it resets."""

    def middleware(request):
        response = get_response(request)
        window = getattr(request, "rate_limit", None)
        if window is not None:
            for name, value in window.headers().items():
                response[name] = value
        return response

    return middleware

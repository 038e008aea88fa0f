def inner():
    raise ValueError("boom from attachpy test")


def outer():
    inner()


outer()

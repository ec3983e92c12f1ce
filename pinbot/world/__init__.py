"""Local stand-ins for the outside world (images, repositories), for tests and the demo."""
